// Typed errors. Every failure a user can cause (bad config, bad file, diverging run) surfaces as a subclass of
// FlopsError with a stable `code`, so the app, the CLI and the UI can tell them apart without parsing messages.
export class FlopsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A configuration value is invalid; `field` names it (dotted path). */
export class ConfigError extends FlopsError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super('CONFIG_INVALID', `${field}: ${message}`);
  }
}

/** A model file or graph does not match what the engine needs (missing trainable inputs, wrong shapes). */
export class ModelError extends FlopsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MODEL_INVALID', message, options);
  }
}

/** A file could not be read as the format it claims (safetensors, ONNX, IDX, checkpoint, image). */
export class FormatError extends FlopsError {
  constructor(
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('FORMAT_INVALID', `${file}: ${message}`, options);
  }
}

/** Training produced a non-finite loss or gradient; the last good parameters are kept. */
export class DivergenceError extends FlopsError {
  constructor(
    readonly step: number,
    message: string,
  ) {
    super('DIVERGED', `step ${step}: ${message}`);
  }
}
