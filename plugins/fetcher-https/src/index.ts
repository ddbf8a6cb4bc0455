export { HttpsFetcher, DEFAULT_USER_AGENT } from './fetcher.js';
export type { HttpsFetcherOptions, Discover, DiscoveryRequest, DiscoveredImage } from './fetcher.js';
export { appcDiscover } from './discover.js';
export { openUrl, readBody, parseMaxAge, type TransportOptions, type OpenedResponse } from './http.js';
export { downloadAci, type DownloadOptions, type DownloadResult } from './download.js';
