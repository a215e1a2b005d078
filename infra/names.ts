/** `records-dlq` -> `RecordsDlq`: for construct ids and output names. */
export function pascal(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/u)
    .filter(Boolean)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

/** The stack's name: the product's, plus the stage when there is one (`QadPipedriveConnector-staging`). */
export const STACK_NAME = 'QadPipedriveConnector';
export const stackNameFor = (stage: string | undefined): string => (stage ? `${STACK_NAME}-${stage}` : STACK_NAME);
