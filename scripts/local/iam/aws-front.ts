import { Agent, createServer, request as forward, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AccessDenied, accessKeyOf, type LocalIam } from './identities.ts';
import type { IamRequest } from './policy.ts';

/** One AWS call as IAM sees it: the action and every resource it touches (a batch touches several). */
export type IamCalls = Array<Pick<IamRequest, 'action' | 'resource'>>;

type JsonBody = Record<string, unknown>;
const keysOf = (v: unknown): string[] => (v && typeof v === 'object' ? Object.keys(v) : []);

/** DynamoDB's JSON protocol: the table (or index) ARNs a call acts on; a transaction needs each item's own action. */
export function dynamoCalls(operation: string, body: JsonBody, tableArn: (table: string) => string): IamCalls {
  const action = `dynamodb:${operation}`;
  if (operation === 'BatchGetItem' || operation === 'BatchWriteItem')
    return keysOf(body.RequestItems).map((t) => ({ action, resource: tableArn(t) }));
  if (operation === 'TransactWriteItems' || operation === 'TransactGetItems') {
    const items = Array.isArray(body.TransactItems) ? (body.TransactItems as JsonBody[]) : [];
    const kinds: Record<string, string> = {
      Put: 'PutItem',
      Update: 'UpdateItem',
      Delete: 'DeleteItem',
      ConditionCheck: 'ConditionCheckItem',
      Get: 'GetItem',
    };
    return items.flatMap((item) =>
      Object.entries(item).map(([kind, op]) => {
        const table = String((op as JsonBody).TableName ?? '');
        if (!kinds[kind]) throw new Error(`the local IAM does not know the transaction item ${kind}`);
        return { action: `dynamodb:${kinds[kind]}`, resource: tableArn(table) };
      }),
    );
  }
  if (typeof body.TableName !== 'string') throw new Error(`the local IAM cannot tell which table dynamodb:${operation} acts on`);
  const index = typeof body.IndexName === 'string' ? `/index/${body.IndexName}` : '';
  return [{ action, resource: `${tableArn(body.TableName)}${index}` }];
}

/** SQS's JSON protocol: the queue ARN a call acts on, from its QueueUrl (or QueueName for GetQueueUrl). */
export function sqsCalls(operation: string, body: JsonBody, queueArn: (name: string) => string): IamCalls {
  // A batch call is authorized as its single action (sqs:SendMessage for SendMessageBatch), as AWS does.
  const action = `sqs:${operation.replace(/Batch$/u, '')}`;
  const name =
    typeof body.QueueUrl === 'string' ? body.QueueUrl.split('/').pop() : typeof body.QueueName === 'string' ? body.QueueName : undefined;
  if (!name) throw new Error(`the local IAM cannot tell which queue sqs:${operation} acts on`);
  return [{ action, resource: queueArn(name) }];
}

export interface AwsFront {
  url: string;
  close(): Promise<void>;
}

/**
 * An IAM gate in front of a stand-in that has none (dynalite, local-aws-sqs): reads the caller from the
 * SigV4 access key, maps the JSON-protocol call to its action and resources, asks the local IAM, and
 * either forwards the request untouched or answers AccessDeniedException as the AWS service would.
 */
export async function startAwsFront(options: {
  target: string;
  iam: LocalIam;
  /** `X-Amz-Target` prefix before the dot: `DynamoDB_20120810` or `AmazonSQS`. */
  calls: (operation: string, body: JsonBody) => IamCalls;
}): Promise<AwsFront> {
  const target = new URL(options.target);
  // One kept-alive pool to the stand-in: a new TCP connection per call would cost more than the check itself.
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const deny = (res: ServerResponse, message: string) => {
    res.statusCode = 400;
    res.setHeader('content-type', 'application/x-amz-json-1.0');
    res.setHeader('x-amzn-query-error', 'AccessDenied;Sender');
    res.end(JSON.stringify({ __type: 'com.amazon.coral.service#AccessDeniedException', message, Message: message }));
  };
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
      try {
        const parsed = body.length > 0 ? (JSON.parse(body.toString('utf8')) as JsonBody) : {};
        for (const call of options.calls(operation, parsed))
          options.iam.authorize(accessKeyOf(req.headers.authorization), {
            ...call,
            context: { 'aws:SecureTransport': 'true' },
          });
      } catch (error) {
        if (error instanceof AccessDenied) return deny(res, error.message);
        // A call the gate cannot map is refused loudly, never passed through unchecked.
        res.statusCode = 400;
        res.setHeader('content-type', 'application/x-amz-json-1.0');
        const message = `local IAM: ${error instanceof Error ? error.message : String(error)}`;
        process.stderr.write(`${message}\n`);
        return res.end(JSON.stringify({ __type: 'com.amazon.coral.service#LocalIamNotUnderstood', message }));
      }
      const upstream = forward(
        { agent, host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 500, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}
