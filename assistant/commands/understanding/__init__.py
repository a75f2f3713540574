"""Understanding what people type: periods in words, the store's vocabulary, and the reader."""
