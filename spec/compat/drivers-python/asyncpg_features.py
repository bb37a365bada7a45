# asyncpg features, one line each (name OK result / name ERR class sqlstate message): run
# straight to PostgreSQL and through pgmux by spec/compat/drivers-python.spec.ts, which compares.
import os, sys, asyncio, asyncpg
kw = dict(host='127.0.0.1', port=int(os.environ['PORT']), database='app', user=os.environ['USER_NAME'], password=os.environ['PW'])
async def t(name, f):
    try:
        r = await asyncio.wait_for(f(), 15)
        print(name, 'OK', r)
    except Exception as e:
        print(name, 'ERR', type(e).__name__, getattr(e, 'sqlstate', None), str(e).strip().splitlines()[0] if str(e).strip() else '')
async def main():
    c0 = await asyncpg.connect(**kw)
    await c0.execute("DROP TABLE IF EXISTS ap; CREATE TABLE ap(id serial primary key, v text, n int)")
    await c0.close()
    async def basic():
        c = await asyncpg.connect(**kw)
        r = [await c.fetchval("SELECT $1::int + 1", i) for i in range(10)]
        r2 = await c.fetchrow("SELECT $1::text[] AS a, $2::jsonb AS j, $3::numeric n", ['a','b'], '{"x":1}', 1.5)
        await c.close(); return r[-1], dict(r2)
    await t('basic', basic)
    async def nocache():
        c = await asyncpg.connect(**kw, statement_cache_size=0)
        r = [await c.fetchval("SELECT $1::int + 1", i) for i in range(5)]
        r2 = await c.fetchval("SELECT $1::text[]", ['a'])
        await c.close(); return r[-1], r2
    await t('nocache', nocache)
    async def prepare():
        c = await asyncpg.connect(**kw)
        st = await c.prepare("SELECT $1::int * 2 AS x")
        a = [await st.fetchval(i) for i in range(5)]
        types = [str(x.type.name) for x in st.get_attributes()]
        await c.close(); return a, types
    await t('prepare', prepare)
    async def cursor_tx():
        c = await asyncpg.connect(**kw)
        out=0
        async with c.transaction():
            async for r in c.cursor("SELECT generate_series(1,1000) g", prefetch=50):
                out+=1
            cur = await c.cursor("SELECT generate_series(1,100)")
            a = await cur.fetch(10); await cur.forward(5); b = await cur.fetchrow()
        await c.close(); return out, len(a), b[0]
    await t('cursor_tx', cursor_tx)
    async def copy():
        c = await asyncpg.connect(**kw)
        await c.copy_records_to_table('ap', records=[(i, f'v{i}', i) for i in range(1,101)], columns=['id','v','n'])
        import io
        buf = io.BytesIO()
        await c.copy_from_query("SELECT * FROM ap WHERE n < $1", 10, output=buf)
        await c.copy_to_table('ap', source=io.BytesIO(b'1000\tx\t1\n1001\ty\t2\n'))
        n = await c.fetchval("SELECT count(*) FROM ap")
        await c.close(); return len(buf.getvalue().splitlines()), n
    await t('copy', copy)
    async def executemany():
        c = await asyncpg.connect(**kw)
        await c.executemany("INSERT INTO ap(id, v, n) VALUES ($1, $2, $3)", [(2000+i, 'm', i) for i in range(100)])
        n = await c.fetchval("SELECT count(*) FROM ap WHERE v='m'")
        await c.close(); return n
    await t('executemany', executemany)
    async def executemany_err():
        c = await asyncpg.connect(**kw)
        try:
            await c.executemany("INSERT INTO ap(id, v, n) VALUES ($1, $2, $3)", [(3000, 'e', 1), (3000, 'e', 2), (3001,'e',3)])
        except Exception as e:
            err = type(e).__name__
        n = await c.fetchval("SELECT count(*) FROM ap WHERE v='e'")
        await c.close(); return err, n
    await t('executemany_err', executemany_err)
    async def listener():
        c = await asyncpg.connect(**kw); c2 = await asyncpg.connect(**kw)
        q = asyncio.Queue()
        await c.add_listener('ach', lambda conn, pid, ch, payload: q.put_nowait(payload))
        await c2.execute("NOTIFY ach, 'p1'")
        p = await asyncio.wait_for(q.get(), 5)
        await c.remove_listener('ach', lambda *a: None)
        await c.close(); await c2.close(); return p
    await t('listener', listener)
    async def codec():
        c = await asyncpg.connect(**kw)
        import json
        await c.set_type_codec('json', encoder=json.dumps, decoder=json.loads, schema='pg_catalog')
        r = await c.fetchval("SELECT $1::json", {'a': 1})
        await c.close(); return r
    await t('codec', codec)
    async def composite():
        c = await asyncpg.connect(**kw)
        await c.execute("DROP TYPE IF EXISTS acpt CASCADE; CREATE TYPE acpt AS (a int, b text)")
        r = await c.fetchval("SELECT ROW(1,'x')::acpt")
        r2 = await c.fetchval("SELECT $1::acpt", (2,'y'))
        await c.close(); return tuple(r), tuple(r2)
    await t('composite', composite)
    async def timeout():
        c = await asyncpg.connect(**kw)
        try:
            await c.fetchval("SELECT pg_sleep(5)", timeout=0.5)
        except asyncio.TimeoutError: pass
        r = await c.fetchval("SELECT 9")
        await c.close(); return r
    await t('timeout', timeout)
    async def pool():
        p = await asyncpg.create_pool(**kw, min_size=2, max_size=5)
        async def one(i):
            async with p.acquire() as c:
                await c.execute("SET application_name = 'x%s'" % i)
                return await c.fetchval("SELECT $1::int", i)
        r = await asyncio.gather(*[one(i) for i in range(20)])
        async with p.acquire() as c:
            an = await c.fetchval("SHOW application_name")
        await p.close(); return sum(r), an
    await t('pool', pool)
    async def pool_lock():
        p = await asyncpg.create_pool(**kw, min_size=1, max_size=1)
        async with p.acquire() as c:
            await c.execute("SELECT pg_advisory_lock(42)")
        async with p.acquire() as c:
            r = await c.fetchval("SELECT count(*) FROM pg_locks WHERE locktype='advisory'")
        await p.close(); return r
    await t('pool_lock', pool_lock)
    async def tx_iso():
        c = await asyncpg.connect(**kw)
        async with c.transaction(isolation='serializable', readonly=True):
            r = await c.fetchval("SHOW transaction_isolation")
        async with c.transaction():
            await c.execute("INSERT INTO ap(id,v,n) VALUES (5000,'s',1)")
            try:
                async with c.transaction():
                    await c.execute("INSERT INTO ap(id,v,n) VALUES (5000,'s',1)")
            except asyncpg.UniqueViolationError: pass
        n = await c.fetchval("SELECT count(*) FROM ap WHERE v='s'")
        await c.close(); return r, n
    await t('tx_iso', tx_iso)
    async def ddl_change():
        c = await asyncpg.connect(**kw)
        await c.execute("DROP TABLE IF EXISTS ad; CREATE TABLE ad(a int)")
        await c.execute("INSERT INTO ad VALUES (1)")
        r1 = await c.fetch("SELECT * FROM ad")
        await c.execute("ALTER TABLE ad ADD COLUMN b int")
        r2 = await c.fetch("SELECT * FROM ad")
        await c.close(); return len(r1[0]), len(r2[0])
    await t('ddl_change', ddl_change)
    async def many_stmts():
        c = await asyncpg.connect(**kw)
        s=0
        for i in range(300):
            s += await c.fetchval(f"SELECT $1::int + {i}", 1)
        await c.close(); return s
    await t('many_stmts', many_stmts)
asyncio.run(main())
