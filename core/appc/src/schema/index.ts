/** appc 0.8.11 manifest schema: parsing, validation (reference-compatible), serialisation, patching. */
export type { Problem, ValidateOptions } from './decode.js';
export { KNOWN_ISOLATORS, RESOURCE_ISOLATORS, LINUX_ISOLATORS, UNIX_ISOLATORS } from './decode.js';
export {
  checkImageManifest,
  checkManifest,
  checkPodManifest,
  formatProblems,
  parseImageManifest,
  parseManifest,
  parsePodManifest,
  validateImageManifest,
  validatePodManifest,
  type AnyManifest,
  type ImageManifestResult,
  type ManifestCheck,
  type ManifestInput,
  type PodManifestResult,
} from './manifest.js';
export {
  AC_IDENTIFIER_REGEX,
  AC_KINDS,
  AC_NAME_REGEX,
  ENV_NAME_REGEX,
  VALID_OS_ARCH,
  acIdentifierError,
  acKindError,
  acNameError,
  acVersionError,
  imageIdError,
  isACIdentifier,
  isACName,
  isFullImageId,
  labelsFromMap,
  labelsToMap,
  labelsToRecord,
  osArchError,
  parseSemVer,
  sanitizeACIdentifier,
  sanitizeACName,
  toAppcOsArch,
  type SemVer,
} from './names.js';
export { httpUrlError, isGoIP, parseQuantity, rfc3339Error, type Quantity } from './values.js';
export { goQuote, imageManifestToJson, podManifestToJson, type SerializeOptions } from './serialize.js';
export { parseJson, JsonSyntaxError, type JNode } from './json.js';
export {
  isolatorFromString,
  mountPointFromString,
  patchManifest,
  patchManifestBytes,
  portFromString,
  seccompIsolatorFromArgs,
  type PatchManifestOptions,
} from './patch.js';
export { makeQueryString, parseParams, parseQuery, queryEscape, queryUnescape } from './query.js';
