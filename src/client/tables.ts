/**
 * Row types of the exposed tables, as `rowcast types` generates them from the
 * live database: each column typed as it arrives in a change event's JSON.
 * Regenerate after a schema change: `npx rowcast types > src/rowcast-types.ts`.
 */

export interface Notifications {
  id: number;
  user_id: string;
  kind: string | null;
  title: string | null;
  message: string | null;
  read: boolean | null;
  created_at: string | null;
}

export interface Orders {
  id: number;
  order_number: string | null;
  customer_name: string | null;
  total: number | 'NaN' | null;
  status: string | null;
  created_at: string | null;
  updated_at: string | null;
}

export interface Posts {
  id: number;
  author_id: string | null;
  title: string | null;
  body: string | null;
  likes: number | null;
  created_at: string | null;
}

/** Table name (schema-qualified outside `public`) → row type. */
export interface RowcastTables {
  notifications: Notifications;
  orders: Orders;
  posts: Posts;
}
