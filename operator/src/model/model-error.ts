/**
 * Thrown by a builder when its inputs cannot produce a valid object: an app without name, namespace or
 * uid, or an in-cluster Redis without the generated password. `code` is stable; `field` names the input.
 */
export class ModelInputError extends Error {
  readonly code = 'CAPSTAN_ERR_MODEL_INPUT';
  readonly field: string;

  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'ModelInputError';
    this.field = field;
  }
}
