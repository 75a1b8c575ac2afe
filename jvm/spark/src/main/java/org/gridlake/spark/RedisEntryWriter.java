package org.gridlake.spark;

import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;

import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import redis.clients.jedis.AbstractPipeline;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.JedisClientConfig;
import redis.clients.jedis.RedisClient;
import redis.clients.jedis.RedisClusterClient;
import redis.clients.jedis.Response;
import redis.clients.jedis.UnifiedJedis;
import redis.clients.jedis.params.SetParams;
import redis.clients.jedis.params.XAddParams;

/**
 * Writes a Spark partition of cache entries into Redis, in pipelined batches, and returns how
 * many it wrote. Each row is (key, ttl_s, document, copy): the document (the JSON the API sends)
 * is SET with its TTL in one command; with a stream, each batch's durable copies (JSON objects,
 * made in Spark; null for a key without a copy of its own) are appended as one stream entry
 * {version, copies: [..]} after the batch, as jobs/stores/cache_writeback.py reads them.
 *
 * <p>Why in the JVM: the Python tasks spent 1.8 times the client's CPU per key (Arrow to Python
 * objects, then redis-py's command packing); Jedis pipelines the rows where Spark holds them.
 * Key layout, TTLs and the copies' JSON are all made in Spark from schemas/cache_keys.py; this
 * class only sends them. Connection settings mirror jobs/stores/clients.py redis_options.
 */
public final class RedisEntryWriter implements MapPartitionsFunction<Row, Long> {
  private static final long serialVersionUID = 1L;

  private final List<String> nodes;
  private final boolean cluster;
  private final int database;
  private final String user;
  private final String password;
  private final int timeoutMs;
  private final String caFile;
  private final String certFile;
  private final String keyFile;
  private final boolean tls;
  private final boolean checkHostname;
  private final int batchSize;
  private final String stream;
  private final String version;

  public RedisEntryWriter(List<String> nodes, boolean cluster, int database, String user, String password,
                          int timeoutMs, boolean tls, String caFile, String certFile, String keyFile,
                          boolean checkHostname, int batchSize, String stream, String version) {
    this.nodes = List.copyOf(nodes);
    this.cluster = cluster;
    this.database = database;
    this.user = user;
    this.password = password;
    this.timeoutMs = timeoutMs;
    this.tls = tls;
    this.caFile = caFile;
    this.certFile = certFile;
    this.keyFile = keyFile;
    this.checkHostname = checkHostname;
    this.batchSize = batchSize;
    this.stream = stream;
    this.version = version;
  }

  @Override
  public Iterator<Long> call(Iterator<Row> rows) throws Exception {
    long written = 0;
    if (!rows.hasNext()) {
      return List.of(written).iterator();
    }
    try (UnifiedJedis client = connect()) {
      while (rows.hasNext()) {
        written += writeBatch(client, rows);
      }
    }
    return List.of(written).iterator();
  }

  /**
   * One pipeline round trip: up to batchSize keys, then their durable copies. A reply that is an
   * error (out of memory, a refused command) fails the task, and with it the publish before the
   * flip: a pipeline's sync alone would let it pass unseen.
   */
  private int writeBatch(UnifiedJedis client, Iterator<Row> rows) {
    StringBuilder copies = stream == null ? null : new StringBuilder("[");
    List<Response<?>> replies = new ArrayList<>(batchSize + 1);
    int count = 0;
    int copied = 0;
    try (AbstractPipeline pipe = client.pipelined()) {
      while (count < batchSize && rows.hasNext()) {
        Row row = rows.next();
        String key = row.getString(0);
        replies.add(pipe.set(key, row.getString(2), SetParams.setParams().ex(row.getLong(1))));
        if (copies != null && !row.isNullAt(3)) {
          copies.append(copied++ == 0 ? "" : ",").append(row.getString(3));
        }
        count++;
      }
      if (copied > 0) {
        replies.add(pipe.xadd(stream, XAddParams.xAddParams(),
                              Map.of("version", version, "copies", copies.append(']').toString())));
      }
      pipe.sync();
    }
    for (Response<?> reply : replies) {
      reply.get();  // throws the reply's error
    }
    return count;
  }

  private UnifiedJedis connect() throws IOException, GeneralSecurityException {
    DefaultJedisClientConfig.Builder config = DefaultJedisClientConfig.builder()
        .connectionTimeoutMillis(timeoutMs).socketTimeoutMillis(timeoutMs).user(user).password(password);
    if (tls) {
      SSLParameters parameters = new SSLParameters();
      if (checkHostname) {
        parameters.setEndpointIdentificationAlgorithm("HTTPS");
      }
      config.ssl(true).sslSocketFactory(socketFactory()).sslParameters(parameters);
    }
    Set<HostAndPort> addresses = new HashSet<>();
    for (String node : nodes) {
      addresses.add(HostAndPort.from(node));
    }
    if (cluster) {
      return RedisClusterClient.builder().nodes(addresses).clientConfig(config.build()).build();
    }
    JedisClientConfig single = config.database(database).build();
    return RedisClient.builder().hostAndPort(addresses.iterator().next()).clientConfig(single).build();
  }

  /** TLS from the PEM files of conf: the CA to trust and, when set, our client certificate. */
  private SSLSocketFactory socketFactory() throws IOException, GeneralSecurityException {
    CertificateFactory x509 = CertificateFactory.getInstance("X.509");
    KeyStore trusted = KeyStore.getInstance(KeyStore.getDefaultType());
    trusted.load(null, null);
    if (caFile != null) {
      int n = 0;
      for (Certificate ca : readCertificates(x509, caFile)) {
        trusted.setCertificateEntry("ca-" + n++, ca);
      }
    }
    TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    trust.init(caFile != null ? trusted : null);
    KeyManagerFactory keys = null;
    if (certFile != null && keyFile != null) {
      KeyStore identity = KeyStore.getInstance(KeyStore.getDefaultType());
      identity.load(null, null);
      Certificate[] chain = readCertificates(x509, certFile).toArray(new Certificate[0]);
      identity.setKeyEntry("client", readPkcs8Key(keyFile, chain[0].getPublicKey().getAlgorithm()), new char[0], chain);
      keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      keys.init(identity, new char[0]);
    }
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(keys != null ? keys.getKeyManagers() : null, trust.getTrustManagers(), null);
    return context.getSocketFactory();
  }

  private static Collection<? extends Certificate> readCertificates(CertificateFactory x509, String file)
      throws IOException, GeneralSecurityException {
    try (InputStream in = new FileInputStream(file)) {
      return x509.generateCertificates(in);
    }
  }

  /** A PEM "PRIVATE KEY" (PKCS #8, as jobs and tests write them); Java reads no other PEM key form. */
  private static PrivateKey readPkcs8Key(String file, String algorithm) throws IOException, GeneralSecurityException {
    String pem = Files.readString(Paths.get(file));
    if (!pem.contains("-----BEGIN PRIVATE KEY-----")) {
      throw new GeneralSecurityException(file + ": the Spark publish reads only PKCS #8 keys (BEGIN PRIVATE KEY)");
    }
    String body = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
    return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(body)));
  }
}
