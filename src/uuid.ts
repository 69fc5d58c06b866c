import { createHash } from 'node:crypto';

/**
 * A UUID that is a pure function of `seed`: the same event always yields the same
 * idempotency key (LINE's `X-Line-Retry-Key`, the staff webhook's `Idempotency-Key`),
 * so a retried delivery is recognised as the same one.
 */
export function stableUuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
