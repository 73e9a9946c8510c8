/**
 * JSON for the dashboard: metadata is whatever the application stored (bigints, buffers, maps,
 * cycles...), and one odd value must not break a page or an event stream.
 */

/** Serialized meta above this many characters is replaced by a note saying so. */
export const MAX_META_CHARS = 8192;

function replacer(this: unknown, _key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Map) return Object.fromEntries(value);
  if (value instanceof Set) return [...(value as Set<unknown>)];
  if (typeof value === 'function' || typeof value === 'symbol') return String(value);
  if (value instanceof Uint8Array) return { bytes: value.byteLength };
  // Buffer's own toJSON runs before the replacer sees it.
  if (typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return { bytes: (value as { data: unknown[] }).data.length };
  }
  return value;
}

/** JSON text of any value (never throws: cycles and the like become a description). */
export function stringify(value: unknown): string {
  try {
    return JSON.stringify(value, replacer) ?? 'null';
  } catch (error) {
    return JSON.stringify({ unserializable: (error as Error).message });
  }
}

/** Meta as a JSON-safe value, bounded in size. */
export function jsonMeta(meta: unknown): unknown {
  const text = stringify(meta);
  if (text.length > MAX_META_CHARS) return { truncated: true, chars: text.length };
  return JSON.parse(text) as unknown;
}
