import type { Action, ResourceKind } from '../../policy/vocabulary.js';
import type { CheckSpec, HttpMethod, IdSource, ListSpec, Operation, PolicyOperation } from './operation.js';

/** One row of an API version's operation table, before its access is said. */
export interface Row {
  name: string;
  method: HttpMethod;
  template: string;
  pathParams?: readonly string[];
  arrayQuery?: readonly string[];
  takesBody?: false;
}

export type Extras = Partial<Pick<PolicyOperation, 'list' | 'batch' | 'bulk' | 'also' | 'longPoll'>>;

/**
 * The `route(name, method, template)` of one API version's table: the version's array query parameters and
 * body-less writes are looked up by operation name, so the table rows stay one line each.
 */
export function routeFor(arrayQuery: Readonly<Record<string, readonly string[]>>, withoutBody: ReadonlySet<string>) {
  return (name: string, method: HttpMethod, template: string, pathParams?: readonly string[]): Row => {
    const row: Row = { name, method, template };
    if (pathParams) row.pathParams = pathParams;
    if (arrayQuery[name]) row.arrayQuery = arrayQuery[name];
    if (withoutBody.has(name)) row.takesBody = false;
    return row;
  };
}

export const check = (resource: ResourceKind, action: Action, ids: IdSource): CheckSpec => ({ resource, action, ids });

export function policy(row: Row, main: CheckSpec, extras: Extras = {}): Operation {
  return { ...row, access: 'policy', ...main, ...extras };
}

export const list = (itemsKey: string, idField: string): { list: ListSpec } => ({ list: { itemsKey, idField } });
export const dagList = (itemsKey: string) => list(itemsKey, 'dag_id');
