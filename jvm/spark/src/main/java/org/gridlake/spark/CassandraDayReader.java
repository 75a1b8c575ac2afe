package org.gridlake.spark;

import java.nio.ByteBuffer;
import java.time.Instant;
import java.time.LocalDate;
import java.time.temporal.ChronoUnit;
import java.util.Arrays;
import java.util.List;

import com.datastax.oss.driver.api.core.cql.Row;
import com.datastax.spark.connector.CassandraRowMetadata;
import com.datastax.spark.connector.ColumnName;
import com.datastax.spark.connector.ColumnRef;
import com.datastax.spark.connector.SomeColumns;
import com.datastax.spark.connector.cql.CassandraConnector;
import com.datastax.spark.connector.cql.TableDef;
import com.datastax.spark.connector.rdd.CassandraJoinRDD;
import com.datastax.spark.connector.rdd.CqlWhereClause;
import com.datastax.spark.connector.rdd.ReadConf;
import com.datastax.spark.connector.rdd.reader.RowReader;
import com.datastax.spark.connector.rdd.reader.RowReaderFactory;
import com.datastax.spark.connector.writer.RowWriter;
import com.datastax.spark.connector.writer.RowWriterFactory;
import org.apache.spark.SparkConf;
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.codegen.UnsafeRowWriter;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import scala.Option;
import scala.Tuple2;
import scala.collection.IndexedSeq;
import scala.collection.JavaConverters;
import scala.collection.Seq;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;

/**
 * Reads the Cassandra partitions named by a frame of partition keys through the connector's
 * direct join ({@link CassandraJoinRDD}: one query per key, {@code concurrentReads} in flight
 * per task, the keys' partitioning kept) and writes each row into Spark's own row format
 * straight from the bytes Cassandra sent.
 *
 * <p>Why not the connector's DataFrame direct join, which runs the same join: its rows pass
 * through the connector's generic conversion, each value decoded into a Java object (a String,
 * a LocalDate, a boxed Long) and then converted again into Spark's value (a date through
 * java.sql.Date and the JVM's calendar). In a profile of the extract that was 56% of the Spark
 * tasks' time. Here each value is copied from its native-protocol encoding, which the protocol
 * fixes: the columns' CQL types come from the table's own schema, and a type this reader does
 * not know (decimal, varint, collections, ...) is refused when the frame is made.
 */
public final class CassandraDayReader {
  private CassandraDayReader() {}

  /** A CQL type this reader decodes, with Spark's type for it. */
  enum Kind {
    TEXT(DataTypes.StringType, "text", "varchar", "ascii"), BOOLEAN(DataTypes.BooleanType, "boolean"),
    SMALLINT(DataTypes.ShortType, "smallint"), INT(DataTypes.IntegerType, "int"),
    BIGINT(DataTypes.LongType, "bigint"), FLOAT(DataTypes.FloatType, "float"), DOUBLE(DataTypes.DoubleType, "double"),
    TIMESTAMP(DataTypes.TimestampType, "timestamp"), DATE(DataTypes.DateType, "date");

    final DataType sparkType;
    private final List<String> cqlTypes;

    Kind(DataType sparkType, String... cqlTypes) {
      this.sparkType = sparkType;
      this.cqlTypes = List.of(cqlTypes);
    }

    /** The kind of {@code column} of {@code table}, as Cassandra's schema declares it. */
    static Kind of(TableDef table, String column) {
      if (!table.columnByName().contains(column)) {
        throw new IllegalArgumentException(table.keyspaceName() + "." + table.tableName() + " has no column " + column);
      }
      String cqlType = table.columnByName().apply(column).columnType().cqlTypeName();
      for (Kind kind : values()) {
        if (kind.cqlTypes.contains(cqlType)) {
          return kind;
        }
      }
      throw new IllegalArgumentException("CassandraDayReader cannot read " + table.keyspaceName() + "."
          + table.tableName() + "." + column + " of CQL type " + cqlType);
    }

    static Kind[] of(TableDef table, String[] columns) {
      return Arrays.stream(columns).map(column -> of(table, column)).toArray(Kind[]::new);
    }
  }

  /**
   * The rows of {@code keyspace.table} whose partition keys are the rows of {@code keys} (its
   * columns named as the table's partition key, in order), as a frame of {@code columns}. Each
   * partition of {@code keys} is read by one task, its keys in their order, each Cassandra
   * partition's rows in clustering order.
   */
  public static Dataset<org.apache.spark.sql.Row> join(Dataset<org.apache.spark.sql.Row> keys, String keyspace,
      String table, String[] columns, int concurrentReads) {
    SparkSession spark = keys.sparkSession();
    SparkConf conf = spark.sparkContext().getConf().clone()
        .set("spark.cassandra.concurrent.reads", Integer.toString(concurrentReads))
        .set("spark.cassandra.input.metrics", "false");
    String[] keyColumns = keys.columns();
    // Copied: the key rows stay in flight while their partitions are read.
    RDD<InternalRow> keyRows = keys.queryExecution().toRdd().toJavaRDD().map(InternalRow::copy).rdd();
    ClassTag<InternalRow> rowTag = ClassTag$.MODULE$.apply(InternalRow.class);
    CassandraJoinRDD<InternalRow, InternalRow> joined = new CassandraJoinRDD<>(
        keyRows, keyspace, table, CassandraConnector.apply(conf), selector(columns), selector(keyColumns),
        CqlWhereClause.empty(), Option.empty(), Option.empty(), ReadConf.fromSparkConf(conf),
        Option.empty(), Option.empty(), rowTag, rowTag, new KeyWriterFactory(keyColumns), new ReaderFactory());
    Kind[] kinds = Kind.of(joined.tableDef(), columns);
    StructField[] fields = new StructField[columns.length];
    for (int i = 0; i < columns.length; i++) {
      fields[i] = DataTypes.createStructField(columns[i], kinds[i].sparkType, true);
    }
    RDD<InternalRow> rows = joined.toJavaRDD().map(Tuple2::_2).rdd();
    return spark.internalCreateDataFrame(rows, new StructType(fields), false);
  }

  private static SomeColumns selector(String[] names) {
    ColumnRef[] refs = Arrays.stream(names).map(name -> new ColumnName(name, Option.empty())).toArray(ColumnRef[]::new);
    return SomeColumns.apply(JavaConverters.asScalaBuffer(Arrays.asList(refs)).toSeq());
  }

  /** Binds a key row's Spark values as the driver's Java values of the partition key. */
  static final class KeyWriterFactory implements RowWriterFactory<InternalRow>, java.io.Serializable {
    private static final long serialVersionUID = 1L;
    private final String[] names;

    KeyWriterFactory(String[] names) {
      this.names = names;
    }

    @Override
    public RowWriter<InternalRow> rowWriter(TableDef table, IndexedSeq<ColumnRef> selected) {
      return new KeyWriter(names, Kind.of(table, names));
    }
  }

  static final class KeyWriter implements RowWriter<InternalRow> {
    private static final long serialVersionUID = 1L;
    private final Seq<String> names;
    private final Kind[] kinds;

    KeyWriter(String[] names, Kind[] kinds) {
      this.names = JavaConverters.asScalaBuffer(Arrays.asList(names)).toSeq();
      this.kinds = kinds;
    }

    @Override
    public Seq<String> columnNames() {
      return names;
    }

    @Override
    public void readColumnValues(InternalRow key, Object[] buffer) {
      for (int i = 0; i < kinds.length; i++) {
        buffer[i] = key.isNullAt(i) ? null : switch (kinds[i]) {
          case TEXT -> key.getString(i);
          case BOOLEAN -> key.getBoolean(i);
          case SMALLINT -> key.getShort(i);
          case INT -> key.getInt(i);
          case BIGINT -> key.getLong(i);
          case FLOAT -> key.getFloat(i);
          case DOUBLE -> key.getDouble(i);
          case TIMESTAMP -> Instant.EPOCH.plus(key.getLong(i), ChronoUnit.MICROS);
          case DATE -> LocalDate.ofEpochDay(key.getInt(i));
        };
      }
    }
  }

  /** Makes the readers of the selected columns, their kinds from the table's schema. */
  static final class ReaderFactory implements RowReaderFactory<InternalRow>, java.io.Serializable {
    private static final long serialVersionUID = 1L;

    @Override
    public RowReader<InternalRow> rowReader(TableDef table, IndexedSeq<ColumnRef> selected) {
      String[] columns = JavaConverters.seqAsJavaList(selected).stream().map(ColumnRef::columnName)
          .toArray(String[]::new);
      return new Reader(Kind.of(table, columns));
    }

    @Override
    public Class<InternalRow> targetClass() {
      return InternalRow.class;
    }
  }

  /**
   * One Cassandra row into one Spark row, by the native protocol's encodings: numbers
   * big-endian, a boolean one byte, timestamp milliseconds since the epoch (Spark keeps
   * microseconds), date days as an unsigned int centred on 2^31 (Spark keeps signed days),
   * text UTF-8 as Spark keeps it. A null, and the empty value CQL allows in a column of a
   * number, boolean or time type, are Spark's null.
   */
  static final class Reader implements RowReader<InternalRow> {
    private static final long serialVersionUID = 1L;
    private final Kind[] kinds;
    private transient UnsafeRowWriter writer;

    Reader(Kind[] kinds) {
      this.kinds = kinds;
    }

    @Override
    public InternalRow read(Row row, CassandraRowMetadata metadata) {
      if (writer == null) {
        writer = new UnsafeRowWriter(kinds.length);
      }
      writer.reset();
      writer.zeroOutNullBytes();
      for (int i = 0; i < kinds.length; i++) {
        ByteBuffer value = row.getBytesUnsafe(i);
        if (value == null || (value.remaining() == 0 && kinds[i] != Kind.TEXT)) {
          writer.setNullAt(i);
          continue;
        }
        int at = value.position();
        switch (kinds[i]) {
          case TEXT -> writeText(i, value);
          case BOOLEAN -> writer.write(i, value.get(at) != 0);
          case SMALLINT -> writer.write(i, value.getShort(at));
          case INT -> writer.write(i, value.getInt(at));
          case BIGINT -> writer.write(i, value.getLong(at));
          case FLOAT -> writer.write(i, value.getFloat(at));
          case DOUBLE -> writer.write(i, value.getDouble(at));
          case TIMESTAMP -> writer.write(i, Math.multiplyExact(value.getLong(at), 1000L));
          case DATE -> writer.write(i, value.getInt(at) ^ Integer.MIN_VALUE);
        }
      }
      // A row of its own: the join hands rows on while the next ones are read.
      return writer.getRow().copy();
    }

    private void writeText(int ordinal, ByteBuffer value) {
      if (value.hasArray()) {
        writer.write(ordinal, value.array(), value.arrayOffset() + value.position(), value.remaining());
      } else {
        byte[] bytes = new byte[value.remaining()];
        value.duplicate().get(bytes);
        writer.write(ordinal, bytes);
      }
    }

    @Override
    public Option<Seq<ColumnRef>> neededColumns() {
      return Option.empty();
    }
  }
}
