/**
 * Structural appc types shared by every package. Validation lives in @rkt/appc; these are the
 * shapes the contracts talk about. Fields follow appc 0.8.11 exactly (JSON names).
 */

export interface Label { name: string; value: string }
export interface Annotation { name: string; value: string }
export interface EnvVar { name: string; value: string }
export interface AppcIsolator { name: string; value: unknown }
export interface MountPoint { name: string; path: string; readOnly?: boolean }
export interface Port {
  name: string;
  protocol: string;
  port: number;
  count?: number;
  socketActivated?: boolean;
}
export interface EventHandler { name: 'pre-start' | 'post-stop' | string; exec: string[] }

export interface App {
  exec?: string[];
  user: string;
  group: string;
  supplementaryGIDs?: number[];
  eventHandlers?: EventHandler[];
  workingDirectory?: string;
  environment?: EnvVar[];
  isolators?: AppcIsolator[];
  mountPoints?: MountPoint[];
  ports?: Port[];
  /** Free-form end-user data; must not change runtime behaviour. */
  userAnnotations?: Record<string, string>;
  userLabels?: Record<string, string>;
}

export interface Dependency {
  imageName: string;
  imageID?: string;
  labels?: Label[];
  size?: number;
}

export interface ImageManifest {
  acKind: 'ImageManifest';
  acVersion: string;
  name: string;
  labels?: Label[];
  app?: App;
  annotations?: Annotation[];
  dependencies?: Dependency[];
  pathWhitelist?: string[];
}

export interface Volume {
  name: string;
  kind: 'host' | 'empty' | string;
  readOnly?: boolean;
  source?: string;
  recursive?: boolean;
  mode?: string;
  uid?: number;
  gid?: number;
}

/** `id` is '' when a (template) pod manifest leaves it out; the reference does not require it. */
export interface RuntimeImage { name?: string; id: string; labels?: Label[] }

export interface Mount { volume: string; path: string; appVolume?: Volume }

export interface ExposedPort { name: string; hostPort: number; hostIP?: string; podPort?: Port }

export interface RuntimeApp {
  name: string;
  image: RuntimeImage;
  app?: App;
  readOnlyRootFS?: boolean;
  mounts?: Mount[];
  annotations?: Annotation[];
}

export interface PodManifest {
  acKind: 'PodManifest';
  acVersion: string;
  apps: RuntimeApp[];
  volumes?: Volume[];
  isolators?: AppcIsolator[];
  annotations?: Annotation[];
  ports?: ExposedPort[];
  userAnnotations?: Record<string, string>;
  userLabels?: Record<string, string>;
}
