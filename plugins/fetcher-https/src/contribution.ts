/**
 * Contribution entry: `rkt.fetcher.v1` / `https`. Init only builds the object; nothing is read or
 * opened until the first fetch. Settings (`plugins["rkt.fetcher.v1.https"]`): `caFile`,
 * `timeoutMs`, `maxImageBytes`, `maxRedirects`, `userAgent`, and for loopback tests
 * `discoveryPort` (a port appended to discovery hosts).
 */
import { defineContribution, Fetcher } from '@rkt/api';
import { HttpsFetcher, type HttpsFetcherOptions } from './fetcher.js';

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined;
}

export default defineContribution(Fetcher, (ctx) => {
  const c = ctx.config;
  const opts: HttpsFetcherOptions = {};
  if (typeof c.caFile === 'string' && c.caFile !== '') opts.caFile = c.caFile;
  if (typeof c.userAgent === 'string' && c.userAgent !== '') opts.userAgent = c.userAgent;
  const timeoutMs = num(c.timeoutMs);
  if (timeoutMs !== undefined) opts.timeoutMs = timeoutMs;
  const maxImageBytes = num(c.maxImageBytes);
  if (maxImageBytes !== undefined) opts.maxImageBytes = maxImageBytes;
  const discoveryPort = num(c.discoveryPort);
  if (discoveryPort !== undefined) opts.discoveryPort = discoveryPort;
  const maxRedirects = num(c.maxRedirects);
  if (maxRedirects !== undefined) opts.maxRedirects = maxRedirects;
  return new HttpsFetcher(opts);
});
