// Spark Streaming's side of scripts/spark-compare: the classic DStream word count over
// the files the script moves into $COMPARE_DIR/in one a second, counts saved as text
// files per batch. Prints the processing time of the batches that read a file.
import org.apache.spark.streaming._
import org.apache.spark.streaming.scheduler._
import java.nio.file.{Files, Paths}

val dir = sys.env("COMPARE_DIR")
val input = sys.env("COMPARE_INPUT")
val in = s"$dir/in"
Files.createDirectories(Paths.get(in))
val ssc = new StreamingContext(sc, Seconds(1))
val counts = ssc.textFileStream(in).flatMap(_.split(" ")).map((_, 1L)).reduceByKey(_ + _)
counts.saveAsTextFiles(s"$dir/out/batch")
val delays = new java.util.concurrent.ConcurrentLinkedQueue[Long]()
ssc.addStreamingListener(new StreamingListener {
  override def onBatchCompleted(b: StreamingListenerBatchCompleted): Unit =
    delays.add(b.batchInfo.processingDelay.getOrElse(-1L))
})
ssc.start()
Thread.sleep(3000)
val files = new java.io.File(input).listFiles.sortBy(_.getName)
for (f <- files) {
  // A fresh modification time, or the file stream ignores the file as old.
  val staged = Paths.get(s"$dir/.${f.getName}")
  Files.copy(f.toPath, staged)
  staged.toFile.setLastModified(System.currentTimeMillis)
  Files.move(staged, Paths.get(in, f.getName))
  Thread.sleep(1000)
}
Thread.sleep(4000)
ssc.stop(stopSparkContext = false, stopGracefully = true)
// The batches that read a file are the slowest ones; the others had nothing to do.
val busy = delays.toArray.map(_.asInstanceOf[Long]).sorted.takeRight(files.length)
println(s"COMPARE spark ${busy.mkString(" ")}")
System.exit(0)
