import type { PollName, SyncEntity, SyncEntityName } from './entity.ts';
import { organizations } from './organizations.ts';
import { persons } from './persons.ts';
import { products } from './products.ts';

export { organizations, persons, products };

/**
 * Calls `fn` with the entity's definition, keeping its record type: the flows are generic, and
 * this is the one place that turns a name from a message or a schedule into a definition.
 */
export function withEntity<T>(name: SyncEntityName | Exclude<PollName, 'deals'>, fn: <R, C>(entity: SyncEntity<R, C>) => T): T {
  switch (name) {
    case 'organization':
    case 'customers':
      return fn(organizations);
    case 'person':
    case 'contacts':
      return fn(persons);
    case 'product':
    case 'items':
      return fn(products);
  }
}
