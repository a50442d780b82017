// Kubernetes resource quantities ("1", "3000", "2k", "1Gi", "500m", "1e3") as plain numbers.
// Pure: the webhook and the scheduler read GPU resources through here so both agree on values.

const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|[numkMGTPE])?$/;

const BINARY: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

function multiplier(suffix: string): number {
  if (suffix === "") return 1;
  const fixed = BINARY[suffix] ?? DECIMAL[suffix];
  if (fixed !== undefined) return fixed;
  return 10 ** Number(suffix.slice(1));
}

/** The numeric value of a quantity, or undefined when it is not a valid Kubernetes quantity. */
export function parseQuantity(raw: string | number): number | undefined {
  if (typeof raw === "number") return Number.isFinite(raw) ? raw : undefined;
  const match = QUANTITY.exec(raw.trim());
  if (!match) return undefined;
  const value = Number(match[1]) * multiplier(match[2] ?? "");
  return Number.isFinite(value) ? value : undefined;
}
