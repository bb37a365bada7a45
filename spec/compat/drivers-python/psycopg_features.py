# psycopg 3 features, one line each (name OK result / name ERR class sqlstate message): run
# straight to PostgreSQL and through pgmux by spec/compat/drivers-python.spec.ts, which compares.
import os, sys, psycopg, threading, time
from psycopg import sql
dsn = f"host=127.0.0.1 port={os.environ['PORT']} dbname=app user={os.environ['USER_NAME']} password={os.environ['PW']}"
def t(name, f):
    try:
        r = f()
        print(name, 'OK', r)
    except Exception as e:
        print(name, 'ERR', type(e).__name__, getattr(e, 'sqlstate', None), str(e).strip().splitlines()[0])
def conn(**kw):
    return psycopg.connect(dsn, connect_timeout=5, **kw)

with conn(autocommit=True) as c:
    c.execute("DROP TABLE IF EXISTS p3; CREATE TABLE p3(id serial primary key, v text, b bytea)")

def pipeline():
    with conn() as c:
        with c.pipeline():
            c.execute("INSERT INTO p3(v) VALUES (%s)", ['a'])
            cur = c.execute("SELECT count(*) FROM p3")
            c.execute("INSERT INTO p3(v) VALUES (%s) RETURNING id", ['b'])
        r = cur.fetchone()
        c.commit()
        return r
t('pipeline', pipeline)
def pipeline_ac():
    with conn(autocommit=True) as c:
        with c.pipeline() as p:
            c1 = c.execute("SELECT 1")
            c2 = c.execute("SELECT %s::int", [2])
            try:
                c.execute("SELECT 1/0")
                p.sync()
            except Exception as e: pass
        return c1.fetchone(), c2.fetchone()
t('pipeline_ac', pipeline_ac)
def pipeline_err():
    with conn(autocommit=True) as c:
        try:
            with c.pipeline():
                c.execute("SELECT 1")
                c.execute("SELECT 1/0")
                c.execute("SELECT 3")
        except Exception as e:
            pass
        return c.execute("SELECT 42").fetchone()
t('pipeline_err', pipeline_err)
def executemany_ret():
    with conn(autocommit=True) as c:
        cur = c.cursor()
        cur.executemany("INSERT INTO p3(v) VALUES (%s) RETURNING id, v", [('x',),('y',),('z',)], returning=True)
        out=[]
        while True:
            out.append(cur.fetchone()[1])
            if not cur.nextset(): break
        return out
t('executemany_ret', executemany_ret)
def executemany_tx():
    with conn() as c:
        c.cursor().executemany("INSERT INTO p3(v) VALUES (%s)", [(str(i),) for i in range(50)])
        c.commit()
        return c.execute("select count(*) from p3").fetchone()
t('executemany_tx', executemany_tx)
def named_cursor_tx():
    with conn() as c:
        with c.cursor('nc') as cur:
            cur.execute("SELECT generate_series(1,1000)")
            a = cur.fetchmany(10); b = cur.fetchall()
        c.commit()
        return len(a)+len(b)
t('named_cursor_tx', named_cursor_tx)
def named_cursor_hold():
    with conn(autocommit=True) as c:
        cur = c.cursor('hc', withhold=True)
        cur.execute("SELECT generate_series(1,100)")
        a = cur.fetchmany(5)
        b = c.execute("SELECT 7").fetchone()
        rest = cur.fetchall()
        cur.close()
        return len(a), b, len(rest)
t('named_cursor_hold', named_cursor_hold)
def named_cursor_hold_tx():
    with conn() as c:
        cur = c.cursor('hc2', withhold=True)
        cur.execute("SELECT generate_series(1,100)")
        c.commit()
        a = cur.fetchmany(5); rest = cur.fetchall(); cur.close(); c.commit()
        return len(a)+len(rest)
t('named_cursor_hold_tx', named_cursor_hold_tx)
def named_cursor_scroll():
    with conn() as c:
        cur = c.cursor('sc', scrollable=True)
        cur.execute("SELECT generate_series(1,100)")
        cur.fetchmany(10); cur.scroll(-5); r = cur.fetchone(); cur.close(); c.commit(); return r
t('named_cursor_scroll', named_cursor_scroll)
def copy_rows():
    with conn() as c:
        with c.cursor().copy("COPY p3(v,b) FROM STDIN") as cp:
            for i in range(100): cp.write_row((f"r{i}", b'\x00\x01'))
        c.commit()
        rows=[]
        with c.cursor().copy("COPY (SELECT v FROM p3 WHERE v LIKE 'r%' ORDER BY id) TO STDOUT") as cp:
            for row in cp.rows(): rows.append(row)
        c.commit()
        return len(rows)
t('copy_rows', copy_rows)
def copy_binary():
    with conn(autocommit=True) as c:
        cur=c.cursor()
        with cur.copy("COPY p3(v,b) FROM STDIN (FORMAT BINARY)") as cp:
            cp.set_types(['text','bytea'])
            for i in range(20): cp.write_row((f"bin{i}", bytes([i])))
        n=0
        with cur.copy("COPY (SELECT v,b FROM p3 WHERE v LIKE 'bin%') TO STDOUT (FORMAT BINARY)") as cp:
            cp.set_types(['text','bytea'])
            for row in cp.rows(): n+=1
        return n
t('copy_binary', copy_binary)
def copy_err():
    with conn(autocommit=True) as c:
        try:
            with c.cursor().copy("COPY p3(id) FROM STDIN") as cp:
                cp.write_row(('notint',))
        except Exception as e: pass
        return c.execute("select 1").fetchone()
t('copy_err', copy_err)
def prep_default():
    with conn(autocommit=True) as c:
        out=[]
        for i in range(10):
            out.append(c.execute("SELECT %s::int + 1", [i]).fetchone()[0])
        return out[-1]
t('prep_default', prep_default)
def evict():
    with conn(autocommit=False, prepare_threshold=0) as c:
        c.prepared_max = 2
        s=0
        for r in range(5):
            for q in range(6):
                s += c.execute(f"SELECT %s::int + {q}", [r]).fetchone()[0]
            c.commit()
        return s
t('evict', evict)
def evict_ac():
    with conn(autocommit=True, prepare_threshold=1) as c:
        c.prepared_max = 3
        s=0
        for r in range(5):
            for q in range(8):
                s += c.execute(f"SELECT %s::int * {q}", [r]).fetchone()[0]
        return s
t('evict_ac', evict_ac)
def evict_pipeline():
    with conn(autocommit=True, prepare_threshold=0) as c:
        c.prepared_max = 2
        s=[]
        with c.pipeline():
            curs=[c.execute(f"SELECT %s::int - {q}", [q]) for q in range(6)]*1
        for cu in curs: s.append(cu.fetchone()[0])
        with c.pipeline():
            curs=[c.execute(f"SELECT %s::int - {q}", [q]) for q in range(6)]
        for cu in curs: s.append(cu.fetchone()[0])
        return s
t('evict_pipeline', evict_pipeline)
def cancel():
    with conn(autocommit=True) as c:
        def later():
            time.sleep(0.5); c.cancel()
        th=threading.Thread(target=later); th.start()
        try:
            c.execute("SELECT pg_sleep(5)")
        except Exception as e:
            th.join(); return ('cancelled', getattr(e,'sqlstate',None), c.execute("select 5").fetchone())
        return 'not cancelled'
t('cancel', cancel)
def stmt_timeout():
    with conn(autocommit=True) as c:
        c.execute("SET statement_timeout = 200")
        try: c.execute("SELECT pg_sleep(2)")
        except Exception as e: return (e.sqlstate, c.execute("show statement_timeout").fetchone())
t('stmt_timeout', stmt_timeout)
def notifies():
    with conn(autocommit=True) as c, conn(autocommit=True) as c2:
        c.execute("LISTEN chan1")
        threading.Timer(0.2, lambda: c2.execute("NOTIFY chan1, 'hello'")).start()
        for n in c.notifies():
            return (n.channel, n.payload)
t('notifies', notifies)
def typeinfo():
    from psycopg.types import TypeInfo
    from psycopg.types.hstore import register_hstore
    with conn(autocommit=True) as c:
        ti = TypeInfo.fetch(c, "int4")
        from psycopg.types.composite import CompositeInfo, register_composite
        c.execute("DROP TYPE IF EXISTS cpt; CREATE TYPE cpt AS (a int, b text)")
        ci = CompositeInfo.fetch(c, "cpt")
        register_composite(ci, c)
        r = c.execute("SELECT (1,'z')::cpt").fetchone()[0]
        return ti.oid, r
t('typeinfo', typeinfo)
def binary():
    with conn(autocommit=True) as c:
        cur = c.cursor(binary=True)
        return cur.execute("SELECT %b::int, %b::bytea, %b::text", [5, b'\x00\xff', 'hé']).fetchone()
t('binary', binary)
def tx_status():
    with conn() as c:
        c.execute("SELECT 1"); c.rollback()
        c.execute("CREATE TEMP TABLE tt(a int)"); c.commit()
        c.execute("INSERT INTO tt VALUES (1)"); c.commit()
        return c.execute("SELECT count(*) FROM tt").fetchone()
t('temp_table', tx_status)
def server_cursor_ac():
    with conn(autocommit=True) as c:
        with c.cursor('acnc') as cur:
            cur.execute("SELECT generate_series(1,50)")
            return len(cur.fetchall())
t('named_cursor_autocommit', server_cursor_ac)
def xact_ctx():
    with conn(autocommit=True) as c:
        with c.transaction():
            c.execute("INSERT INTO p3(v) VALUES ('t1')")
            try:
                with c.transaction():
                    c.execute("SELECT 1/0")
            except Exception: pass
            r=c.execute("SELECT count(*) FROM p3 WHERE v='t1'").fetchone()
        return r
t('savepoint', xact_ctx)
