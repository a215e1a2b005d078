// The two undici modules shared/clients/http.ts uses, imported by path: the bundle then carries undici's
// request API and agent, not its fetch, WebSocket, cache and mock code (about 230 KB of every function).
// undici 7 has no "exports" map, so these paths are its public files; the version is pinned in package.json.
declare module 'undici/lib/dispatcher/agent.js' {
  import { Agent } from 'undici';
  export default Agent;
}

declare module 'undici/lib/api/api-request.js' {
  import type { Dispatcher } from 'undici';
  export default function request(this: Dispatcher, options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData>;
}
