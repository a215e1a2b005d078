import * as z from 'zod';
import { tenantUrlProblem } from './tenant-url.ts';
import { fieldMappingSchema } from './field-mapping.ts';
import { scheduleExpressionProblem } from '../domain/schedule-expression.ts';

/** Whether this process may talk plain http to loopback (the local run and tests only). */
/** The connector's default share of the company's daily token budget: 40% of every day stays for the company's other apps. */
export const DEFAULT_DAILY_BUDGET_SHARE = 0.6;

export function allowLoopbackHttp(): boolean {
  return process.env.CONNECTOR_ALLOW_LOOPBACK_HTTP === 'true';
}

const baseUrl = z
  .string()
  .superRefine((value, ctx) => {
    const problem = tenantUrlProblem(value, allowLoopbackHttp());
    if (problem) ctx.addIssue({ code: 'custom', message: `URL ${problem}` });
  })
  .transform((value) => value.replace(/\/+$/u, ''));

/** Where one QAD list lives on the instance, and the date field its changed-since filter uses. */
const browseShape = (browseId: string, modDateField: string) => ({
  browsePath: z.string().startsWith('/').default('/api/qracore/browses'),
  browseId: z.string().default(browseId),
  modDateField: z.string().default(modDateField),
  pageSize: z.number().int().min(1).max(1000).default(500),
});
/**
 * A browse with a unique key, by which it is read (`key gt last`, page 1 each time), so a row
 * deleted during the read cannot shift another past a page boundary unseen. Null: by page number,
 * for an instance whose browse does not sort by its key.
 */
const browse = (browseId: string, modDateField: string, keyField: string) =>
  z.object({ ...browseShape(browseId, modDateField), keyField: z.string().min(1).nullable().default(keyField) }).prefault({});

/** A list of QAD status codes, compared in upper case. */
const upperCodes = (defaults: string[]) =>
  z
    .array(z.string().trim().min(1))
    .default(defaults)
    .transform((codes) => codes.map((c) => c.toUpperCase()));

export const PIPEDRIVE_OAUTH_TOKEN_URL = 'https://oauth.pipedrive.com/oauth/token';

/** An EventBridge-style rate expression: the cadence of one entity's poll for one tenant. */
const rateExpression = z.string().superRefine((value, ctx) => {
  const problem = scheduleExpressionProblem(value, ['rate']);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/**
 * One connection: a QAD instance at its full base URL and one Pipedrive company.
 * Every QAD path and field name lives here with a default, so a tenant whose instance differs
 * needs configuration, not code.
 */
export const tenantConfigSchema = z.object({
  tenantId: z.string().regex(/^[a-z0-9][a-z0-9-]{1,39}$/u, 'must be 2-40 lowercase letters, digits or dashes'),
  displayName: z.string().max(200).optional(),
  enabled: z.boolean().default(true),
  qad: z.object({
    baseUrl,
    clientId: z.string().min(1),
    username: z.string().min(1),
    workspaceId: z.string().min(1).describe('x-qad-workspace-id, <domain>_<entity>'),
    swaggerPath: z.string().startsWith('/').default('/api/swagger.json'),
    customers: browse('urn:browse:mfg:customers', 'cm_mstr.cm_mod_date', 'cm_mstr.cm_addr'),
    contacts: browse('urn:browse:mfg:customer-contacts', 'ct_mstr.ct_mod_date', 'ct_mstr.ct_id'),
    items: browse('urn:browse:mfg:items', 'pt_mstr.pt_mod_date', 'pt_mstr.pt_part'),
    prices: z
      .object({
        ...browseShape('urn:browse:mfg:price-lists', 'pi_mstr.pi_mod_date'),
        /** The price list whose prices become the products' prices, one per currency. */
        list: z.string().min(1).default('STD'),
        listField: z.string().default('pi_mstr.pi_list'),
      })
      .prefault({}),
    salesOrders: z
      .object({
        path: z.string().startsWith('/').default('/api/erp/salesOrderHeaders'),
        /**
         * How the order's customer PO (so_po) starts, before the deal id: unique per tenant, so two Pipedrive
         * companies feeding one QAD instance never adopt each other's orders. Default `PD-<tenantId>-`.
         */
        poPrefix: z
          .string()
          .regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,15}$/u, 'must be 1-16 letters, digits, dots, dashes or slashes')
          .optional(),
        /** QAD site on every order (tenant default). */
        site: z.string().min(1).default('10-100'),
        /** A won deal without product lines: reject it, or order one line of this item for the deal value. */
        noLines: z.union([z.literal('reject'), z.object({ item: z.string().min(1) })]).default('reject'),
      })
      .prefault({}),
    /**
     * The order's life, read back for the deals' fields: a browse of the connector's orders, one row per line
     * (so_mstr with sod_det). so_mstr has no modification date: every order of the tenant's customer PO prefix is
     * read each time and compared by content hash. Read by page number: the order number is not unique per row.
     */
    orderStatus: z
      .object({
        browsePath: z.string().startsWith('/').default('/api/qracore/browses'),
        browseId: z.string().default('urn:browse:mfg:sales-order-lines'),
        pageSize: z.number().int().min(1).max(1000).default(500),
        /** so_stat codes that mean the order was cancelled, or is on hold, on this instance (blank: open). */
        cancelledStatuses: upperCodes(['X', 'CN']),
        onHoldStatuses: upperCodes(['HD']),
      })
      .prefault({}),
    /** QAD mod dates are days: re-read this many days before the watermark and drop what did not change. */
    overlapDays: z.number().int().min(1).max(30).default(1),
  }),
  pipedrive: z
    .object({
      apiBaseUrl: baseUrl,
      /** `token`: x-api-token; `oauth`: Bearer tokens from an authorisation, refreshed at `oauthTokenUrl`, calls to their api_domain. */
      auth: z.enum(['token', 'oauth']).default('token'),
      oauthClientId: z.string().min(1).optional(),
      oauthTokenUrl: baseUrl.default(PIPEDRIVE_OAUTH_TOKEN_URL),
      /** The token URL receives the client secret: another than Pipedrive's only when the operator says so here. */
      allowOtherOAuthTokenUrl: z.boolean().default(false),
      /**
       * The share of the company's daily token budget the connector may spend: the budget is shared with the
       * company's other apps, so the tenant's gate closes until Pipedrive's daily reset once the company has
       * less than the rest left (default 0.6: 40% of every day stays for the others).
       */
      dailyBudgetShare: z.number().gt(0).max(1).default(DEFAULT_DAILY_BUDGET_SHARE),
    })
    .refine((p) => p.auth !== 'oauth' || p.oauthClientId !== undefined, {
      path: ['oauthClientId'],
      message: 'is required with auth "oauth"',
    })
    .refine((p) => p.oauthTokenUrl === PIPEDRIVE_OAUTH_TOKEN_URL || p.allowOtherOAuthTokenUrl, {
      path: ['oauthTokenUrl'],
      message: `must be ${PIPEDRIVE_OAUTH_TOKEN_URL} unless pipedrive.allowOtherOAuthTokenUrl is true`,
    }),
  /** A cadence per poll (`customers`, `deals` ...); a poll not named here runs at its registry default. */
  schedules: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/u, 'must be a poll name such as customers'), rateExpression).default({}),
  mapping: z
    .object({
      /** QAD values -> Pipedrive fields by name, per entity, and the optional key write-back (shared/config/field-mapping.ts). */
      fields: fieldMappingSchema.prefault({}),
      organization: z.object({ keyFieldName: z.string().min(1).max(255).default('QAD Customer Code') }).prefault({}),
      /**
       * A mapped record a person deleted in Pipedrive: written again (`recreate`), or, where deletions in
       * Pipedrive are final, held once for a person with the reason (`hold`). A merged one always follows its survivor.
       */
      deletedInPipedrive: z.enum(['recreate', 'hold']).default('recreate'),
      person: z
        .object({
          keyFieldName: z.string().min(1).max(255).default('QAD Contact ID'),
          /** Which QAD contacts become persons. */
          include: z.enum(['active-with-email-or-phone', 'active', 'all']).default('active-with-email-or-phone'),
        })
        .prefault({}),
      deal: z
        .object({
          /** The deal custom field that receives the QAD sales order number. */
          orderFieldName: z.string().min(1).max(255).default('QAD Sales Order'),
          /** A deal date field (by its name in Pipedrive) that becomes the order's due date, e.g. "Requested ship date". */
          requestedShipDateFieldName: z.string().min(1).max(255).optional(),
          /** How often a deal that could not become an order is looked at again (its cause may be fixed). */
          recheckRejectedAfterMinutes: z.number().int().min(5).max(10_080).default(60),
        })
        .prefault({}),
      product: z
        .object({
          /** QAD item statuses that count as active; other items are kept in Pipedrive and marked, never deleted. */
          activeStatuses: z
            .array(z.string().min(1))
            .min(1)
            .default(['ACTIVE'])
            .transform((s) => s.map((v) => v.toUpperCase())),
        })
        .prefault({}),
    })
    .prefault({}),
});

export type TenantConfig = z.infer<typeof tenantConfigSchema>;
export type TenantConfigInput = z.input<typeof tenantConfigSchema>;

/** What an operator hands over once; stored only as ciphertext. */
export const tenantSecretsSchema = z.object({
  qadPassword: z.string().min(1),
  /** With pipedrive.auth "token". */
  pipedriveApiToken: z.string().min(1).optional(),
  /** With pipedrive.auth "oauth": the app's client secret (the tokens come from `connector authorize`). */
  pipedriveClientSecret: z.string().min(1).optional(),
});
export type TenantSecrets = z.infer<typeof tenantSecretsSchema>;

/** The systems whose clients a tenant has; each secret's KMS encryption context `system`. */
export type ClientSystem = 'qad' | 'pipedrive';
/** `webhook`: the Basic pair Pipedrive sends with webhook deliveries, decrypted only by the webhook endpoint. */
export type SecretSystem = ClientSystem | 'webhook';

/** Where the tenant's Pipedrive webhook posts, for which company, and its Basic pair (ciphertext, context `webhook`). */
export interface WebhookInstallation {
  url: string;
  /** Pipedrive's `company_id` of the tenant: a delivery naming another company is refused. */
  companyId: number;
  secret: string;
}

export const webhookInstallationSchema: z.ZodType<WebhookInstallation> = z.object({
  url: z.string().url(),
  companyId: z.number().int().positive(),
  secret: z.string().min(1),
});

/** A tenant as stored: config in clear, each system's secret encrypted under its own context. */
export interface StoredTenant {
  config: TenantConfig;
  encryptedSecrets: Record<ClientSystem, string>;
  /** Set by `connector webhook install` (not part of the operator's config, and kept when the tenant is added again). */
  webhook?: WebhookInstallation;
  updatedAt: string;
}

/** Config errors name the field, so an operator knows what to fix. */
export function parseTenantConfig(input: unknown): TenantConfig {
  const parsed = tenantConfigSchema.safeParse(input);
  if (!parsed.success) {
    throw new Error(`invalid tenant config: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}
