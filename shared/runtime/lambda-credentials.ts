import { fromEnv, type FromEnvInit } from '@aws-sdk/credential-provider-env';

/**
 * The AWS SDK's credential chain as the bundled functions have it (infra/bundling.ts aliases
 * `@aws-sdk/credential-provider-node` to this module): the environment only. Lambda sets the execution role's
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN in every instance (the local artifact runtime sets
 * each function's own), so the default chain never gets past its first link there. Its other links (SSO, INI files,
 * credential_process, web identity, IMDS and their nested STS/SSO clients) were about 140 KB of every bundle, and
 * their `node:child_process` import was loaded on every cold start. Source runs (tests, the CLI) keep the full chain.
 */
export const defaultProvider = (init: FromEnvInit = {}) => fromEnv(init);
