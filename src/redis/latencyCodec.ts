/*
 * The value one instance publishes for redisLatencySource: its windowed time-to-first-token histograms per
 * (step, model), each in HdrHistogram's own compressed V2 encoding (hdr-histogram-js, the format every
 * HdrHistogram port reads), base64, inside a little JSON. Internal to rxllm/redis.
 *
 * Loaded only through the Redis entry point: the encoder pulls in pako/zlib, which `rxllm` and `rxllm/metrics`
 * never pay for (LatencyHistogram loads only the 32-bit histogram class).
 */
import { decompress, doDecode } from 'hdr-histogram-js/dist/JsHistogram.encoding.js';
import { LatencyHistogram } from '../metrics/LatencyHistogram.js';
import type { WindowTtft } from '../metrics/LatencyRegistry.js';

/** One series as published: the JSON row `[step, model, requests, ttft, censored]` ("" for an empty histogram). */
export interface PublishedSeries {
  step: string;
  model: string;
  requests: number;
  ttft: LatencyHistogram;
  ttftCensored: LatencyHistogram;
}

/** Encodes an instance's series: `{"v":1,"s":[[step, model, requests, ttftBase64, censoredBase64], ...]}`. */
export function encodeSeries(series: readonly WindowTtft[]): string {
  // A series with nothing in its window is left out: it tells the fleet nothing, and an idle instance then
  // publishes a few bytes.
  const rows = series.filter((one) => one.requests > 0).map((one) => [one.step, one.model, one.requests, encode(one.ttft), encode(one.ttftCensored)]);
  return JSON.stringify({ v: 1, s: rows });
}

/**
 * Decodes what {@link encodeSeries} wrote.
 * @throws Error when the value is not one (the caller counts it as malformed and skips that instance).
 */
export function decodeSeries(raw: string): PublishedSeries[] {
  const value = JSON.parse(raw) as { v?: unknown; s?: unknown };
  if (value?.v !== 1 || !Array.isArray(value.s)) throw new Error('not a published latency value (v: 1)');
  return value.s.map((row: unknown) => {
    if (!Array.isArray(row) || row.length !== 5) throw new Error('a series row is not [step, model, requests, ttft, censored]');
    const [step, model, requests, ttft, censored] = row as unknown[];
    if (typeof step !== 'string' || typeof model !== 'string' || typeof ttft !== 'string' || typeof censored !== 'string') {
      throw new Error('a series row has the wrong types');
    }
    if (typeof requests !== 'number' || !Number.isInteger(requests) || requests < 0) throw new Error('a series row has a bad request count');
    return { step, model, requests, ttft: decode(ttft), ttftCensored: decode(censored) };
  });
}

function encode(histogram: LatencyHistogram): string {
  return histogram.count === 0 ? '' : LatencyHistogram.hdrOf(histogram).encodeIntoCompressedBase64();
}

function decode(base64: string): LatencyHistogram {
  if (base64 === '') return new LatencyHistogram();
  const hdr = doDecode(decompress(Buffer.from(base64, 'base64')), 32);
  // Same precision as the publisher's, so adding the counts is a straight copy, not a re-bucketing.
  const digits = hdr.numberOfSignificantValueDigits;
  const histogram = new LatencyHistogram({ significantDigits: Math.min(5, Math.max(1, digits)) as 1 | 2 | 3 | 4 | 5 });
  LatencyHistogram.hdrOf(histogram).add(hdr);
  return histogram;
}
