export { FlyStage1, FLY_INTERFACE_VERSION } from './stage1.js';
