import type { ProviderLimits } from './RateLimiter.js';
import type { Writable } from '../internal/Writable.js';

/**
 * Reads OpenAI's rate-limit response headers (names lower-case, as transports report them):
 * `x-ratelimit-remaining-requests: 59`, `x-ratelimit-reset-requests: 1s`, `x-ratelimit-remaining-tokens: 149000`,
 * `x-ratelimit-reset-tokens: 6m0s`. A header that is missing or unreadable is left out; no header, no fields.
 */
export function rateLimitHeaders(headers: Readonly<Record<string, string>>): ProviderLimits {
  const remainingRequests = count(headers['x-ratelimit-remaining-requests']);
  const resetRequestsMs = duration(headers['x-ratelimit-reset-requests']);
  const remainingTokens = count(headers['x-ratelimit-remaining-tokens']);
  const resetTokensMs = duration(headers['x-ratelimit-reset-tokens']);
  // Fields set one by one into a literal, not a literal of spreads: a literal that starts with a spread gets a
  // hidden class per call (see internal/withFields.ts), and this runs once per response under rateLimit().
  const limits: Writable<ProviderLimits> = {};
  if (remainingRequests !== undefined) limits.remainingRequests = remainingRequests;
  if (resetRequestsMs !== undefined) limits.resetRequestsMs = resetRequestsMs;
  if (remainingTokens !== undefined) limits.remainingTokens = remainingTokens;
  if (resetTokensMs !== undefined) limits.resetTokensMs = resetTokensMs;
  return limits;
}

function count(value: string | undefined): number | undefined {
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) return undefined;
  return Number(value);
}

const UNIT_MS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/**
 * A Go-style duration, as OpenAI sends it: `6m0s`, `1s`, `20ms`, `1.5s`, `2h3m`; a bare number is seconds
 * (the `Retry-After` convention some compatible servers follow).
 */
function duration(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  if (!/^(\d+(\.\d+)?(h|ms|m|s))+$/.test(text)) return undefined;
  let ms = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s)/g)) ms += Number(amount) * UNIT_MS[unit!]!;
  return ms;
}
