// JSON text exactly as Python's json.dumps writes it, for files that Python code reads back or that must match
// byte for byte (bitsandbytes' packed quant_state, transformers' config.json).
//
// The differences from JSON.stringify that matter here:
// - Python keeps int and float apart: the float 6.0 is written "6.0", and transformers' BitsAndBytesConfig
//   rejects an int where it expects a float (`llm_int8_threshold must be a float`). A JavaScript number has no
//   such tag, so the caller names the keys whose values are floats (`floatKeys`); other integral numbers are
//   written as ints.
// - floats use repr(): shortest round-trip digits, exponent form when the decimal exponent is < -4 or >= 16
//   ("1e-05", "1e+16"), a trailing ".0" on integral values, "NaN" / "Infinity" for non-finite values;
// - separators: ", " and ": " without indent, "," and ": " with indent; ensure_ascii escapes every character
//   outside ' '..'~' as \uXXXX.

export interface PyJsonOptions {
  /** Spaces per level (Python's indent); undefined writes one line. */
  indent?: number;
  /** Sort object keys (Python's sort_keys). */
  sortKeys?: boolean;
  /** Keys whose numeric values (at any depth, arrays included) are Python floats. */
  floatKeys?: Iterable<string>;
}

/** Python's repr() of a float. */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  const sign = x < 0 || Object.is(x, -0) ? "-" : "";
  const [mantissa, exp] = Math.abs(x).toExponential().split("e") as [string, string];
  const digits = mantissa.replace(".", "");
  const decpt = Number(exp) + 1;
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) return `${sign}0.${"0".repeat(-decpt)}${digits}`;
    if (decpt >= digits.length) return `${sign}${digits}${"0".repeat(decpt - digits.length)}.0`;
    return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
  }
  const e = decpt - 1;
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${sign}${m}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
}

function pyString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ch = s[i]!;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    else if (c < 0x20 || c > 0x7e) out += `\\u${c.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

/** Python's json.dumps(value, indent=..., sort_keys=...). */
export function pyJsonDumps(value: unknown, opts: PyJsonOptions = {}): string {
  const floatKeys = new Set(opts.floatKeys ?? []);
  const indent = opts.indent;
  const itemSep = indent === undefined ? ", " : ",";
  const nl = (depth: number): string => (indent === undefined ? "" : `\n${" ".repeat(indent * depth)}`);

  const write = (v: unknown, depth: number, isFloat: boolean): string => {
    if (v === null || v === undefined) return "null";
    if (typeof v === "boolean") return v ? "true" : "false";
    if (typeof v === "number") return isFloat || !Number.isInteger(v) ? pyFloatRepr(v) : String(v);
    if (typeof v === "string") return pyString(v);
    if (Array.isArray(v)) {
      if (v.length === 0) return "[]";
      const items = v.map((x) => nl(depth + 1) + write(x, depth + 1, isFloat));
      return `[${items.join(itemSep)}${nl(depth)}]`;
    }
    if (typeof v === "object") {
      const keys = Object.keys(v as object).filter((k) => (v as Record<string, unknown>)[k] !== undefined);
      if (opts.sortKeys) keys.sort();
      if (keys.length === 0) return "{}";
      const items = keys.map(
        (k) => `${nl(depth + 1)}${pyString(k)}: ${write((v as Record<string, unknown>)[k], depth + 1, floatKeys.has(k))}`,
      );
      return `{${items.join(itemSep)}${nl(depth)}}`;
    }
    throw new Error(`pyJsonDumps: cannot serialise a ${typeof v}`);
  };
  return write(value, 0, false);
}
