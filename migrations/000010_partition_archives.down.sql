DROP TABLE partition_archives;
