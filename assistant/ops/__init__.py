"""Operations: settings, logs, metrics, health probes and the doctor."""
