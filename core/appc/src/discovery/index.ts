/** appc 0.8.11 image discovery. */
export {
  appToString,
  discover,
  discoverAciEndpoints,
  discoverPublicKeys,
  discoveryDataFromMeta,
  discoveryUrl,
  fetchDiscoveryPage,
  parseAppString,
  renderTemplate,
  runtimeGoOsArch,
  walkPrefixes,
  type AciEndpoint,
  type DiscoveryApp,
  type DiscoveryData,
  type DiscoveryOptions,
  type DiscoveryResult,
  type FailedAttempt,
} from './discovery.js';
export { extractAcMeta, startTags, unescapeAttr, type AcMeta, type HtmlAttribute, type HtmlStartTag } from './html.js';
export { NodeHttpGetter, readBody, type HttpGetOptions, type HttpGetter, type HttpResponse, type NodeHttpGetterOptions } from './http.js';
