package org.gridlake.elasticsearch;

import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.logging.log4j.LogManager;
import org.elasticsearch.action.admin.cluster.health.ClusterHealthResponse;
import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.core.TimeValue;
import org.elasticsearch.env.Environment;
import org.elasticsearch.http.BindHttpException;
import org.elasticsearch.http.HttpServerTransport;
import org.elasticsearch.node.ClasspathPluginsNode;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.transport.BindTransportException;
import org.elasticsearch.transport.netty4.Netty4Plugin;

/**
 * Starts a local Elasticsearch 8.14.1 cluster of one or more nodes inside this JVM, on 127.0.0.1,
 * for gridlake's tests and local development. Not for production.
 *
 * <p>Why gridlake has its own launcher: Maven Central carries the ES server jar and its libraries,
 * but not the ES distribution, not codelibs' {@code elasticsearch-cluster-runner} for 8.14.1, and
 * of the ES modules only {@code transport-netty4} (as 8.14.2). So each node is built directly from
 * the server jar with two plugins taken from the class path: {@link Netty4Plugin} (HTTP and
 * transport) and {@link RootInfoPlugin} ({@code GET /}). Whatever the other modules provide
 * (painless scripts, ingest processors, parent-join, percolator, extra mapping types and
 * aggregations, reindex, x-pack...) is absent.
 *
 * <p>Node {@code i} (0-based) is named {@code node-i}, listens for HTTP on exactly
 * {@code --http-port + i} and for transport on exactly {@code --transport-port + i}: a port in use
 * is an error, never a reason to take another one. Data and logs go to {@code HOME/node-i/}.
 * ES logs go to stdout; when every node is up and the cluster has formed, one line
 * {@code READY http=127.0.0.1:9200[,127.0.0.1:9201...]} is printed there. SIGTERM closes the nodes.
 *
 * <p>Exit status: 2 bad arguments, 3 a port in use, 1 any other start failure; after SIGTERM the
 * JVM's usual 143.
 */
public final class Launcher {

    private static final String PROG = "gridlake-es";
    private static final String LOOPBACK = "127.0.0.1";
    private static final List<Class<? extends Plugin>> PLUGINS = List.of(Netty4Plugin.class, RootInfoPlugin.class);

    private static final String USAGE = String.join(
        "\n",
        "usage: java [jvm options] -cp CLASSPATH org.gridlake.elasticsearch.Launcher --home DIR [options]",
        "  --home DIR              path.home; node i keeps data and logs in DIR/node-i/ (required)",
        "  --nodes N               nodes to start in this JVM (default 1)",
        "  --http-port P           HTTP port of node 0; node i uses P+i (default 9200)",
        "  --transport-port P      transport port of node 0; node i uses P+i (default 9300)",
        "  --cluster-name NAME     cluster.name (default gridlake-local)",
        "  -E key=value            extra node setting, for every node (repeatable)"
    );

    private Launcher() {}

    public static void main(String[] args) throws InterruptedException {
        Options options;
        try {
            options = Options.parse(args);
        } catch (IllegalArgumentException e) {
            fail(2, e.getMessage() + "\n" + USAGE);
            return;
        }
        if (options.help) {
            System.out.println(USAGE);
            return;
        }
        // Before any ES or Log4j class logs anything.
        if (System.getProperty("log4j2.configurationFile") == null) {
            System.setProperty("log4j2.configurationFile", "classpath:gridlake-es-log4j2.properties");
        }
        for (int i = 0; i < options.nodes; i++) {
            requireFreePort(options.httpPort + i, "HTTP port of node-" + i);
            requireFreePort(options.transportPort + i, "transport port of node-" + i);
        }
        LogConfigurator.loadLog4jPlugins(); // ES's Log4j plugins, e.g. HeaderWarningAppender
        LogConfigurator.configureESLogging(); // routes ES's own logging API to Log4j

        List<Node> nodes = Collections.synchronizedList(new ArrayList<>());
        Runtime.getRuntime().addShutdownHook(new Thread(() -> closeAll(nodes), PROG + "-shutdown"));
        List<String> httpAddresses = new ArrayList<>();
        try {
            for (int i = 0; i < options.nodes; i++) {
                Node node = new ClasspathPluginsNode(environment(options, i), PLUGINS);
                nodes.add(node);
                node.start();
                httpAddresses.add(node.injector().getInstance(HttpServerTransport.class).boundAddress().publishAddress().toString());
            }
            awaitCluster(nodes.get(0), options.nodes);
        } catch (Exception e) {
            if (hasCause(e, BindHttpException.class) || hasCause(e, BindTransportException.class)) {
                fail(3, "a port is already in use: " + e.getMessage());
            }
            LogManager.getLogger(Launcher.class).error("failed to start", e);
            fail(1, "failed to start: " + e);
        }
        System.out.println("READY http=" + String.join(",", httpAddresses));
        System.out.flush();
        new CountDownLatch(1).await(); // ES threads are daemons: keep the JVM up until a signal
    }

    private static Environment environment(Options options, int i) throws IOException {
        Path home = options.home.toAbsolutePath();
        Path nodeDir = home.resolve("node-" + i);
        Path config = Files.createDirectories(nodeDir.resolve("config"));
        Path data = Files.createDirectories(nodeDir.resolve("data"));
        Path logs = Files.createDirectories(nodeDir.resolve("logs"));

        Settings.Builder settings = Settings.builder()
            .put("cluster.name", options.clusterName)
            .put("node.name", "node-" + i)
            .put("path.home", home.toString())
            .put("path.data", data.toString())
            .put("path.logs", logs.toString())
            .put("network.host", LOOPBACK)
            .put("http.port", options.httpPort + i) // a single port, not a range: no fallback
            .put("transport.port", options.transportPort + i)
            .put("cluster.routing.allocation.disk.threshold_enabled", false); // disks here are often nearly full
        if (options.nodes == 1) {
            settings.put("discovery.type", "single-node");
        } else {
            List<String> seeds = new ArrayList<>();
            for (int j = 0; j < options.nodes; j++) {
                seeds.add(LOOPBACK + ":" + (options.transportPort + j));
            }
            settings.putList("discovery.seed_hosts", seeds);
            // node-0 bootstraps the cluster alone, so it need not wait for the others to start;
            // they join it and the voting configuration grows with them.
            settings.putList("cluster.initial_master_nodes", "node-0");
        }
        options.extraSettings.forEach(settings::put);
        return new Environment(settings.build(), config);
    }

    private static void awaitCluster(Node node, int expectedNodes) {
        ClusterHealthResponse health = node.client()
            .admin()
            .cluster()
            .prepareHealth()
            .setWaitForNodes(Integer.toString(expectedNodes))
            .setWaitForYellowStatus()
            .setTimeout(TimeValue.timeValueSeconds(60))
            .get();
        if (health.isTimedOut()) {
            throw new IllegalStateException(
                "cluster did not form within 60s: " + health.getNumberOfNodes() + " of " + expectedNodes + " nodes, status " + health.getStatus()
            );
        }
    }

    /** Checked before anything starts, for a clear message; ES would fail to bind as well. */
    private static void requireFreePort(int port, String what) {
        try (ServerSocket socket = new ServerSocket()) {
            socket.bind(new InetSocketAddress(InetAddress.getByName(LOOPBACK), port));
        } catch (BindException e) {
            fail(3, what + " " + LOOPBACK + ":" + port + " is already in use; not starting");
        } catch (IOException e) {
            fail(3, "cannot bind " + what + " " + LOOPBACK + ":" + port + " (" + e + "); not starting");
        }
    }

    private static void closeAll(List<Node> nodes) {
        List<Node> reversed = new ArrayList<>(nodes);
        Collections.reverse(reversed); // node-0, usually the master, last
        for (Node node : reversed) {
            try {
                node.close();
                node.awaitClose(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                System.err.println(PROG + ": error while closing a node: " + e);
            }
        }
        LogManager.shutdown();
    }

    private static boolean hasCause(Throwable e, Class<? extends Throwable> type) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return true;
            }
        }
        return false;
    }

    private static void fail(int status, String message) {
        System.err.println(PROG + ": " + message);
        System.exit(status);
    }

    /** Command-line options; see {@link #USAGE}. */
    private static final class Options {
        Path home;
        int nodes = 1;
        int httpPort = 9200;
        int transportPort = 9300;
        String clusterName = "gridlake-local";
        final Map<String, String> extraSettings = new LinkedHashMap<>();
        boolean help;

        static Options parse(String[] args) {
            Options o = new Options();
            for (int i = 0; i < args.length; i++) {
                String arg = args[i];
                String value = null;
                int eq = arg.indexOf('=');
                if (arg.startsWith("--") && eq > 0) {
                    value = arg.substring(eq + 1);
                    arg = arg.substring(0, eq);
                }
                if (arg.equals("--help") || arg.equals("-h")) {
                    o.help = true;
                    continue;
                }
                if (value == null) {
                    if (i + 1 >= args.length) {
                        throw new IllegalArgumentException("missing value for " + arg);
                    }
                    value = args[++i];
                }
                switch (arg) {
                    case "--home" -> o.home = Path.of(value);
                    case "--nodes" -> o.nodes = number(arg, value, 1, 9);
                    case "--http-port" -> o.httpPort = number(arg, value, 1, 65535);
                    case "--transport-port" -> o.transportPort = number(arg, value, 1, 65535);
                    case "--cluster-name" -> o.clusterName = value;
                    case "-E" -> {
                        int at = value.indexOf('=');
                        if (at <= 0) {
                            throw new IllegalArgumentException("-E needs key=value, got: " + value);
                        }
                        o.extraSettings.put(value.substring(0, at), value.substring(at + 1));
                    }
                    default -> throw new IllegalArgumentException("unknown option: " + arg);
                }
            }
            if (o.help == false) {
                if (o.home == null) {
                    throw new IllegalArgumentException("--home is required");
                }
                if (o.httpPort + o.nodes - 1 > 65535 || o.transportPort + o.nodes - 1 > 65535) {
                    throw new IllegalArgumentException("port + nodes - 1 exceeds 65535");
                }
            }
            return o;
        }

        private static int number(String option, String value, int min, int max) {
            try {
                int n = Integer.parseInt(value);
                if (n >= min && n <= max) {
                    return n;
                }
            } catch (NumberFormatException e) {
                // reported below
            }
            throw new IllegalArgumentException(option + " must be a number from " + min + " to " + max + ", got: " + value);
        }
    }
}
