-- +goose Up
-- Media are files editors upload straight to object storage. A row is
-- made when an upload is asked for (pending) and becomes ready once the
-- stored object has been checked; pending rows older than a day are
-- deleted with their objects.
CREATE TABLE media (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Chosen by the server, never by the browser.
    key          text        NOT NULL UNIQUE,
    filename     text        NOT NULL CHECK (length(filename) BETWEEN 1 AND 200),
    content_type text        NOT NULL,
    size_bytes   bigint      NOT NULL CHECK (size_bytes > 0),
    status       text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ready')),
    uploaded_by  bigint      REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    confirmed_at timestamptz
);

CREATE INDEX media_ready_idx ON media (created_at DESC, id DESC) WHERE status = 'ready';
CREATE INDEX media_pending_idx ON media (created_at) WHERE status = 'pending';

CREATE TABLE posts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug         text        NOT NULL UNIQUE
                 CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 100),
    title        text        NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    excerpt      text        NOT NULL DEFAULT '' CHECK (length(excerpt) <= 500),
    body_md      text        NOT NULL DEFAULT '' CHECK (length(body_md) <= 100000),
    -- The body rendered from Markdown and sanitised when saved.
    body_html    text        NOT NULL DEFAULT '',
    cover_id     bigint      REFERENCES media (id),
    author_id    bigint      NOT NULL REFERENCES users (id),
    status       text        NOT NULL DEFAULT 'draft'
                 CHECK (status IN ('draft', 'scheduled', 'published')),
    -- When a scheduled post goes out, or when a published one did.
    publish_at   timestamptz,
    -- The River job that publishes a scheduled post; cancelled when the
    -- post is rescheduled or unpublished.
    publish_job  bigint,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (status = 'draft' OR publish_at IS NOT NULL)
);

CREATE INDEX posts_published_idx ON posts (publish_at DESC, id DESC) WHERE status = 'published';
CREATE INDEX posts_updated_idx ON posts (updated_at DESC, id DESC);

CREATE TABLE post_tags (
    post_id bigint NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    tag     text   NOT NULL CHECK (tag ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(tag) <= 40),
    PRIMARY KEY (post_id, tag)
);

CREATE INDEX post_tags_tag_idx ON post_tags (tag, post_id);

-- Every slug a post has had, its current one included: an old address
-- redirects to the post, and no other post can take it.
CREATE TABLE post_slugs (
    slug    text   PRIMARY KEY,
    post_id bigint NOT NULL REFERENCES posts (id) ON DELETE CASCADE
);

CREATE INDEX post_slugs_post_idx ON post_slugs (post_id);

-- One revision per save, to look back at and restore.
CREATE TABLE post_revisions (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    post_id    bigint      NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    title      text        NOT NULL,
    excerpt    text        NOT NULL,
    body_md    text        NOT NULL,
    saved_by   bigint      REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX post_revisions_post_idx ON post_revisions (post_id, id DESC);

-- Where each medium is used; a medium in use cannot be deleted.
CREATE TABLE post_media (
    post_id  bigint NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    media_id bigint NOT NULL REFERENCES media (id) ON DELETE RESTRICT,
    PRIMARY KEY (post_id, media_id)
);

CREATE INDEX post_media_media_idx ON post_media (media_id);

-- +goose Down
DROP TABLE post_media;
DROP TABLE post_revisions;
DROP TABLE post_slugs;
DROP TABLE post_tags;
DROP TABLE posts;
DROP TABLE media;
