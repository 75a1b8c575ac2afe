package org.elasticsearch.plugins;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.elasticsearch.Build;
import org.elasticsearch.action.admin.cluster.node.info.PluginsAndModules;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.jdk.ModuleQualifiedExportsService;

/**
 * A {@link PluginsService} for gridlake's local test Elasticsearch: it loads a fixed list of plugin
 * classes that are already on the class path and scans no {@code modules/} or {@code plugins/}
 * directory (there is no ES distribution, only jars from Maven Central).
 *
 * <p>It lives in ES's own package because {@code LoadedPlugin} and {@code loadPlugin} are
 * package-private there; it only uses them, it changes nothing in ES.
 */
public final class ClasspathPluginsService extends PluginsService {

    private final List<LoadedPlugin> loaded;
    private final PluginsAndModules info;

    public ClasspathPluginsService(Settings settings, Path configDir, List<Class<? extends Plugin>> pluginClasses) {
        super(settings, configDir, null, null); // null directories: load nothing from disk
        List<LoadedPlugin> list = new ArrayList<>();
        for (Class<? extends Plugin> type : pluginClasses) {
            PluginDescriptor descriptor = new PluginDescriptor(
                type.getName(),
                "loaded from the class path by gridlake",
                Build.current().version(),
                Build.current().version(),
                Integer.toString(Runtime.version().feature()),
                type.getName(),
                null,      // no Java module name
                List.of(), // extends no plugin
                false,     // no native controller
                false,     // not licensed
                false,     // not modular
                false      // not a stable-API plugin
            );
            list.add(new LoadedPlugin(descriptor, loadPlugin(type, settings, configDir)));
        }
        loadExtensions(list);
        this.loaded = List.copyOf(list);
        this.info = new PluginsAndModules(loaded.stream().map(p -> new PluginRuntimeInfo(p.descriptor())).toList(), List.of());
    }

    @Override
    protected List<LoadedPlugin> plugins() {
        return loaded;
    }

    @Override
    public PluginsAndModules info() {
        return info;
    }

    /** The server jar is in the unnamed module here, so there are no qualified exports to wire up. */
    @Override
    protected void addServerExportsService(Map<String, List<ModuleQualifiedExportsService>> qualifiedExports) {}
}
