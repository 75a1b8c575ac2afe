package org.elasticsearch.node;

import java.util.List;

import org.elasticsearch.cluster.service.ClusterService;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.ClasspathPluginsService;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.plugins.PluginsService;

/**
 * An Elasticsearch {@link Node} whose plugins come from the class path (see
 * {@link ClasspathPluginsService}), so that several nodes can run in one JVM.
 *
 * <p>It lives in ES's own package because the hooks it needs ({@code NodeServiceProvider},
 * {@code NodeConstruction.prepareConstruction} and the matching {@code Node} constructor) are
 * package-private.
 */
public final class ClasspathPluginsNode extends Node {

    public ClasspathPluginsNode(Environment environment, List<Class<? extends Plugin>> pluginClasses) {
        super(construct(environment, pluginClasses));
    }

    private static NodeConstruction construct(Environment environment, List<Class<? extends Plugin>> pluginClasses) {
        NodeServiceProvider services = new NodeServiceProvider() {
            @Override
            PluginsService newPluginService(Environment env, Settings settings) {
                return new ClasspathPluginsService(settings, env.configFile(), pluginClasses);
            }
        };
        return NodeConstruction.prepareConstruction(environment, services, true);
    }

    /**
     * Skipped: the stock listener stores node and cluster id for logging in a static set-once
     * field, which fails as soon as a second node runs in the same JVM.
     */
    @Override
    protected void configureNodeAndClusterIdStateListener(ClusterService clusterService) {}
}
