// Number-valued command-line flags, parsed whole: Number("") and Number(" ") are 0 and Number("1,,2"
// split on commas gives a 0 for the empty part, so a plain Number() would silently accept an empty or
// mangled value as zero. Errors name the flag and quote the value as given.

export interface NumberFlagRule {
  /** Whole numbers only (safe integers). */
  integer?: boolean;
  min?: number;
  /** Exclusive lower bound (a temperature must be > 0). */
  above?: number;
  max?: number;
}

function describe(rule: NumberFlagRule): string {
  const bounds = [
    rule.min !== undefined ? `≥ ${rule.min}` : null,
    rule.above !== undefined ? `> ${rule.above}` : null,
    rule.max !== undefined ? `≤ ${rule.max}` : null,
  ].filter((b) => b !== null);
  return `${rule.integer ? "an integer" : "a number"}${bounds.length ? ` ${bounds.join(" and ")}` : ""}`;
}

/** The value of `flag` as a number that satisfies `rule`; throws an Error naming the flag otherwise. */
export function parseNumberFlag(flag: string, text: string, rule: NumberFlagRule = {}): number {
  const t = text.trim();
  const n = t === "" ? NaN : Number(t);
  const ok =
    Number.isFinite(n) &&
    (!rule.integer || Number.isSafeInteger(n)) &&
    (rule.min === undefined || n >= rule.min) &&
    (rule.above === undefined || n > rule.above) &&
    (rule.max === undefined || n <= rule.max);
  if (!ok) throw new Error(`${flag} must be ${describe(rule)}, got ${JSON.stringify(text)}`);
  return n;
}

/** A comma-separated list of integers (token ids), each checked as parseNumberFlag checks one. */
export function parseIntegerListFlag(flag: string, text: string, rule: Omit<NumberFlagRule, "integer"> = {}): number[] {
  const parts = text.split(",");
  return parts.map((part, i) => {
    if (part.trim() === "") throw new Error(`${flag} must be comma-separated integers, got ${JSON.stringify(text)} (item ${i + 1} of ${parts.length} is empty)`);
    return parseNumberFlag(`${flag} item ${i + 1}`, part, { ...rule, integer: true });
  });
}
