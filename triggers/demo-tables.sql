-- CONTRACT §2: after every start the three demo tables exist (created if a
-- DBA dropped them) and are exposed, with the default read rules of §7
-- unless a DBA already set their own. Applied after capture.sql (expose).

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

do $$
begin
  if not exists (select 1 from rowcast.exposed_tables where table_schema = 'public' and table_name = 'orders') then
    perform rowcast.expose('public.orders', roles => array['admin', 'staff']);
  end if;
  if not exists (select 1 from rowcast.exposed_tables where table_schema = 'public' and table_name = 'posts') then
    perform rowcast.expose('public.posts');
  end if;
  if not exists (select 1 from rowcast.exposed_tables where table_schema = 'public' and table_name = 'notifications') then
    perform rowcast.expose('public.notifications', owner_column => 'user_id');
  end if;
end
$$;
