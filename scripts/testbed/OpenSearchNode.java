// A single OpenSearch node on 127.0.0.1 for scripts/testbed.sh start-opensearch, run
// with the jars of opensearch-pom.xml on the class path.
// Usage: OpenSearchNode PORT DIR. Blocks until SIGTERM, then closes the node; the data
// under DIR stays, so the node can be started again on it (start-opensearch --keep).
import org.codelibs.opensearch.runner.OpenSearchRunner;

public class OpenSearchNode {
    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        String dir = args[1];
        OpenSearchRunner runner = new OpenSearchRunner();
        runner.setMaxHttpPort(-1); // the default limit is 9299
        runner.onBuild((n, settings) -> {
            settings.put("discovery.type", "single-node");
            settings.put("http.host", "127.0.0.1");
            settings.put("transport.host", "127.0.0.1");
            settings.put("http.port", Integer.toString(port));
            settings.put("transport.port", Integer.toString(port + 1));
            // Tests fill small disks; the default watermarks make indices read-only.
            settings.put("cluster.routing.allocation.disk.threshold_enabled", "false");
            settings.put("action.auto_create_index", "true");
        });
        runner.build(OpenSearchRunner.newConfigs().numOfNode(1).baseHttpPort(port - 1)
                .clusterName("ferry-testbed").basePath(dir).disableESLogger());
        runner.ensureYellow();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                runner.close();
            } catch (Exception e) {
                e.printStackTrace();
            }
        }));
        System.out.println("OpenSearchNode ready on 127.0.0.1:" + port);
        Thread.currentThread().join();
    }
}
