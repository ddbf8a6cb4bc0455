export { HttpsFetcher, DEFAULT_USER_AGENT } from './fetcher.js';
export type { HttpsFetcherOptions, Discover, DiscoveryRequest, DiscoveredImage } from './fetcher.js';
export { appcDiscover, withDefaultLabels, TransportGetter, type AppcDiscoverOptions } from './discover.js';
export { openUrl, readBody, parseMaxAge, type TransportOptions, type OpenedResponse } from './http.js';
export { downloadAci, type DownloadOptions, type DownloadResult } from './download.js';
