import manifest from '../../package.json' with { type: 'json' };

/** The release this code is: package.json's semantic version, shown by `connector --version` and as a stack output. */
export const CONNECTOR_VERSION: string = manifest.version;
