import type { PipedriveClient } from '../../shared/ports/pipedrive.ts';

/** A Pipedrive client for a test that needs only some of its calls: the others refuse, naming what the test is about. */
export function pipedriveClientWith(calls: Partial<PipedriveClient>, usedBy: string): PipedriveClient {
  const unused = () => Promise.reject(new Error(`not used by ${usedBy}`));
  return {
    list: unused,
    get: unused,
    dealProducts: unused,
    create: unused,
    update: unused,
    search: unused,
    companyId: unused,
    listWebhooks: unused,
    createWebhook: unused,
    deleteWebhook: unused,
    addNote: unused,
    dealNotes: unused,
    listFields: unused,
    createField: unused,
    rateLimits: () => ({}),
    grantedScopes: () => Promise.resolve(undefined),
    ...calls,
  };
}
