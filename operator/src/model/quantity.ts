import { ModelInputError } from './model-error.ts';

const BINARY: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, m: 1e-3 };

function multiplier(suffix: string): number | undefined {
  if (suffix in BINARY) return BINARY[suffix];
  if (suffix in DECIMAL) return DECIMAL[suffix];
  const exponent = /^[eE]([+-]?\d+)$/.exec(suffix);
  return exponent ? 10 ** Number(exponent[1]) : undefined;
}

/**
 * The number of bytes a Kubernetes quantity (`256Mi`, `1G`, `1.5Gi`, `1e9`, `1048576`) stands for, rounded up
 * to a whole byte as Kubernetes does. Throws {@link ModelInputError} naming `field` when it is not a quantity.
 */
export function quantityToBytes(field: string, quantity: string | number): number {
  if (typeof quantity === 'number') return Math.ceil(quantity);
  const match = /^([+]?(?:\d+(?:\.\d*)?|\.\d+))([A-Za-z]*|[eE][+-]?\d+)$/.exec(quantity.trim());
  const factor = match ? multiplier(match[2] ?? '') : undefined;
  if (!match || factor === undefined) {
    throw new ModelInputError(field, `not a quantity: ${JSON.stringify(quantity)}`);
  }
  return Math.ceil(Number(match[1]) * factor);
}
