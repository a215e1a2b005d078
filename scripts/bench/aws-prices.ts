/**
 * AWS list prices the cost estimate uses: us-east-1, on-demand, without free tiers, as of 2026-11.
 * They change rarely but they do change: check https://aws.amazon.com/pricing before quoting a figure.
 */
export const AWS_PRICES = {
  asOf: '2026-11',
  region: 'us-east-1',
  /** Lambda: per request, and per GB-second on arm64 (the stack's architecture). */
  lambdaPerMillionRequests: 0.2,
  lambdaPerGbSecondArm: 0.0000133334,
  /** SQS standard queue: per million requests (each 64 KB of a request counts as one). */
  sqsPerMillionRequests: 0.4,
  /** DynamoDB on-demand: per million write request units (1 KB) and read request units (4 KB, strongly consistent). */
  dynamoPerMillionWrites: 0.625,
  dynamoPerMillionReads: 0.125,
  /** KMS: per 10,000 API requests (the key's monthly fee does not depend on records). */
  kmsPer10kRequests: 0.03,
  /** EventBridge Scheduler: per million invocations (one per poll). */
  schedulerPerMillionInvocations: 1,
} as const;

export type AwsPrices = typeof AWS_PRICES;
