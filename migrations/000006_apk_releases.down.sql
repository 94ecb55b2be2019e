DROP TABLE update_events;
DROP TABLE releases;
DROP TABLE apk_download_events;
DROP TABLE apk_builds;
