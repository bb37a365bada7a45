// The pgJDBC side of spec/failover/jdbc-batch.spec.ts: one connection runs executeBatch of ROWS
// inserts per batch, batch after batch, until the file STOP exists. Even batches run in
// autocommit (pgJDBC sends the batch with one Sync: one implicit transaction), odd ones in an
// explicit transaction ended by commit(). One line per batch on stdout:
//   ok <batch> <counts summed>       the batch (and its commit) was acknowledged
//   err <batch> <SQLSTATE> <message> the driver reported an error (the batch may not be half done)
// After an error the connection is replaced when it is no longer usable.
//
// With GO set: one batch only, in an explicit transaction; after executeBatch it prints
// "executed <batch>" and waits for the file GO before commit(), so the spec can take the server
// away between the batch and its COMMIT.

import java.io.File;
import java.sql.*;

public class BatchDrill {
    public static void main(String[] args) throws Exception {
        java.util.Map<String, String> env = System.getenv();
        String url = "jdbc:postgresql://127.0.0.1:" + env.get("PGMUX_PORT") + "/app";
        String user = env.get("PGMUX_USER");
        String password = env.get("PGMUX_PASSWORD");
        int rows = Integer.parseInt(env.get("ROWS"));
        File stop = new File(env.get("STOP"));
        Connection c = DriverManager.getConnection(url, user, password);
        if (env.get("GO") != null) {
            commitLater(c, rows, Integer.parseInt(env.get("BATCH")), new File(env.get("GO")));
            return;
        }
        for (int batch = 0; !stop.exists(); batch++) {
            boolean auto = batch % 2 == 0;
            try {
                c.setAutoCommit(auto);
                int sum = 0;
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO jb (batch, seq, auto) SELECT ?, ?, ? FROM pg_sleep(0.002)")) {
                    for (int i = 0; i < rows; i++) {
                        ps.setInt(1, batch);
                        ps.setInt(2, i);
                        ps.setBoolean(3, auto);
                        ps.addBatch();
                    }
                    for (int n : ps.executeBatch()) sum += n;
                }
                if (!auto) c.commit();
                System.out.println("ok " + batch + " " + sum);
            } catch (SQLException e) {
                SQLException first = e;
                if (e instanceof BatchUpdateException && e.getNextException() != null) first = e.getNextException();
                System.out.println("err " + batch + " " + first.getSQLState() + " " + first.getMessage().replace('\n', ' '));
                boolean usable;
                try {
                    usable = !c.isClosed() && c.isValid(5);
                    if (usable && !c.getAutoCommit()) c.rollback();
                } catch (SQLException again) {
                    usable = false;
                }
                if (!usable) {
                    try { c.close(); } catch (SQLException ignored) { }
                    c = DriverManager.getConnection(url, user, password);
                }
            }
            System.out.flush();
        }
        c.close();
    }

    static void commitLater(Connection c, int rows, int batch, File go) throws Exception {
        c.setAutoCommit(false);
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO jb (batch, seq, auto) VALUES (?, ?, false)")) {
            for (int i = 0; i < rows; i++) {
                ps.setInt(1, batch);
                ps.setInt(2, i);
                ps.addBatch();
            }
            ps.executeBatch();
        }
        System.out.println("executed " + batch);
        System.out.flush();
        while (!go.exists()) Thread.sleep(10);
        try {
            c.commit();
            System.out.println("ok " + batch + " " + rows);
        } catch (SQLException e) {
            System.out.println("err " + batch + " " + e.getSQLState() + " " + e.getMessage().replace('\n', ' '));
        }
        System.out.flush();
    }
}
