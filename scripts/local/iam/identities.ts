import { evaluate, evaluateWithKeyPolicy, type Decision, type IamRequest, type Statement } from './policy.ts';

/** Who calls: a function's role (its policies from the template) or the operator. */
export interface Identity {
  /** The function's name as the stack calls it (`WritePipedrive`), or `operator`. */
  name: string;
  /** The principal ARN IAM would see (the role's assumed-role session for a function). */
  principal: string;
  statements: readonly Statement[];
  /** Counted in the report: the functions' calls are; the operator's setup calls are not. */
  counted: boolean;
}

export interface IamReport {
  checked: number;
  denied: number;
  byFunction: Record<string, { checked: number; denied: number; deniedCalls: string[] }>;
}

/** What AWS answers a denied call with; the SDK raises it as AccessDeniedException. */
export class AccessDenied extends Error {
  override readonly name = 'AccessDeniedException';
}

/**
 * The local IAM: each caller is known by the access key id it signs with (one per function container),
 * and each call it makes is checked against its role's statements before a stand-in serves it.
 * An access key nobody registered is refused, never treated as an administrator.
 */
export class LocalIam {
  private readonly identities = new Map<string, Identity>();
  private report: IamReport = { checked: 0, denied: 0, byFunction: {} };

  constructor(readonly account: string) {}

  register(accessKeyId: string, identity: Identity): void {
    this.identities.set(accessKeyId, identity);
  }

  /** Checks one call; throws AccessDenied with AWS's wording when the role would be denied. */
  authorize(accessKeyId: string | undefined, request: IamRequest, keyPolicy?: readonly Statement[]): void {
    const identity = accessKeyId ? this.identities.get(accessKeyId) : undefined;
    if (!identity) throw new AccessDenied(`The security token included in the request is invalid (access key ${accessKeyId ?? 'none'})`);
    const decision: Decision = keyPolicy
      ? evaluateWithKeyPolicy(keyPolicy, identity.statements, { ...request, principal: identity.principal, account: this.account })
      : evaluate(identity.statements, request, `role policy of ${identity.name}`);
    if (identity.counted) {
      const f = (this.report.byFunction[identity.name] ??= { checked: 0, denied: 0, deniedCalls: [] });
      this.report.checked++;
      f.checked++;
      if (!decision.allowed) {
        this.report.denied++;
        f.denied++;
        const call = `${request.action} on ${request.resource}`;
        if (!f.deniedCalls.includes(call)) f.deniedCalls.push(call);
      }
    }
    if (decision.allowed) return;
    const why = decision.explicit
      ? `with an explicit deny in ${keyPolicy ? 'a key or identity-based' : 'an identity-based'} policy`
      : `because no ${keyPolicy ? 'key or identity-based' : 'identity-based'} policy allows the ${request.action} action`;
    throw new AccessDenied(
      `User: ${identity.principal} is not authorized to perform: ${request.action} on resource: ${request.resource} ${why}`,
    );
  }

  stats(): IamReport {
    return structuredClone(this.report);
  }

  reset(): void {
    this.report = { checked: 0, denied: 0, byFunction: {} };
  }
}

/** The access key id in a SigV4 `Authorization` header (`... Credential=AKID/date/region/service/aws4_request, ...`). */
export function accessKeyOf(authorization: string | undefined): string | undefined {
  return /Credential=([^/]+)\//u.exec(authorization ?? '')?.[1];
}
