// Black-box spec with the real pgJDBC: SQL `PREPARE jx AS ..` and `EXECUTE jx(..)` through
// Statement.execute, which pgJDBC sends as an unnamed Parse, Bind, Describe, Execute and Sync.
// Before lib/prepared/sql-extended handled PREPARE and EXECUTE there, the PREPARE reached one
// server under the client's own name and every later EXECUTE failed with 26000 through pgmux
// (it works straight to PostgreSQL). A second connection holds one of the pool's two servers in
// a transaction before each EXECUTE, so the EXECUTEs land on both servers.

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster, type Cluster } from '../support/cluster';
import { runPgmux, type Running } from '../support/front';
import { makeTempDir, removeTempDir } from '../support/osuser';
import { runScript } from './support';

jest.setTimeout(60000);

const JDBC_JAR = '/usr/share/java/postgresql.jar';

const JAVA = `
import java.sql.*;
import java.util.*;
public class SqlPrepare {
  public static void main(String[] a) throws Exception {
    String url = "jdbc:postgresql://127.0.0.1:" + System.getenv("PORT") + "/app";
    Properties p = new Properties();
    p.setProperty("user", "app");
    p.setProperty("password", System.getenv("PASSWORD"));
    Connection c = DriverManager.getConnection(url, p);
    Connection h = DriverManager.getConnection(url, p);
    Statement st = c.createStatement();
    List<String> out = new ArrayList<>();
    st.execute("PREPARE jx AS SELECT $1::int * 10 AS v");
    for (int i = 0; i < 4; i++) {
      h.setAutoCommit(false);
      ResultSet pid = h.createStatement().executeQuery("SELECT pg_backend_pid()");
      pid.next();
      try {
        ResultSet r = st.executeQuery("EXECUTE jx(" + i + ")");
        r.next();
        ResultSet mine = c.createStatement().executeQuery("SELECT pg_backend_pid()");
        mine.next();
        out.add("\\"" + r.getInt(1) + (mine.getInt(1) == pid.getInt(1) ? " same" : "") + "\\"");
      } catch (SQLException e) {
        out.add("\\"" + e.getSQLState() + "\\"");
      }
      h.commit();
    }
    st.execute("DEALLOCATE jx");
    try { st.execute("EXECUTE jx(9)"); out.add("\\"ran\\""); } catch (SQLException e) { out.add("\\"" + e.getSQLState() + "\\""); }
    System.out.println("{\\"results\\": [" + String.join(", ", out) + "]}");
  }
}
`;

let cluster: Cluster;
let run: Running;
let dir: string;

beforeAll(async () => {
  cluster = await startCluster();
  run = await runPgmux(cluster, { roles: ['app'], settings: { default_pool_size: 2, ignore_startup_parameters: 'extra_float_digits' } });
  dir = makeTempDir('pgmux-jdbc-sql-');
  writeFileSync(join(dir, 'SqlPrepare.java'), JAVA);
  execFileSync('javac', ['-d', join(dir, 'classes'), join(dir, 'SqlPrepare.java')], { stdio: 'pipe' });
});

afterAll(async () => {
  await run?.stop();
  await cluster?.stop();
  if (dir !== undefined) removeTempDir(dir);
});

const drive = (port: number) =>
  runScript('pgJDBC', 'java', ['-cp', `${join(dir, 'classes')}:${JDBC_JAR}`, 'SqlPrepare'], { PORT: String(port), PASSWORD: cluster.password });

describe('pgJDBC Statement.execute with SQL PREPARE and EXECUTE', () => {
  it('every EXECUTE returns its row on whichever server it lands, as straight to PostgreSQL, and after DEALLOCATE gets 26000 (catches: 26000 for the client\'s own statement)', async () => {
    const direct = await drive(cluster.primary.port);
    const pooled = await drive(run.port);
    expect(direct.records).toEqual([{ results: ['0', '10', '20', '30', '26000'] }]);
    expect(pooled.records).toEqual(direct.records);
  });
});
