-- The three tables every Rowcast serves out of the box (CONTRACT §2).
create table if not exists public.orders (
  id bigserial primary key,
  order_number text,
  customer_name text,
  total numeric(12, 2),
  status text default 'pending',
  created_at timestamptz default now(),
  updated_at timestamptz
);

create table if not exists public.posts (
  id bigserial primary key,
  author_id text,
  title text,
  body text,
  likes int default 0,
  created_at timestamptz default now()
);

create table if not exists public.notifications (
  id bigserial primary key,
  user_id text not null,
  kind text,
  title text,
  message text,
  read boolean default false,
  created_at timestamptz default now()
);
