-- +goose Up
-- Events are what live streams deliver, kept so that a client that
-- reconnects gets what it missed and staff have a notification history.
-- Writers take an advisory lock before inserting (see store.addEvent), so
-- ids are handed out in commit order and a reader that has seen id n has
-- seen everything below it.
CREATE TABLE events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- "staff" (notifications), "order:<token>" (a customer's order page)
    -- or "user:<id>" (changes to that user's access).
    topic      text        NOT NULL CHECK (topic <> ''),
    kind       text        NOT NULL CHECK (kind <> ''),
    -- Who may see a staff event: holders of this permission, and when
    -- user_id is set, only that user.
    permission text        NOT NULL DEFAULT '',
    user_id    bigint      REFERENCES users (id) ON DELETE CASCADE,
    -- What the event is about (ids, names, a status), as strings.
    data       jsonb       NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX events_topic_id_idx ON events (topic, id);
CREATE INDEX events_created_at_idx ON events (created_at);

-- Notifications each user has read.
CREATE TABLE notification_reads (
    user_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_id bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, event_id)
);

CREATE INDEX notification_reads_event_idx ON notification_reads (event_id);

-- +goose Down
DROP TABLE notification_reads;
DROP TABLE events;
