// Package blob stores Keel's files (invoices, media) in an S3-compatible
// object store: AWS S3 in production, any compatible server locally.
package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Config says where the bucket is.
type Config struct {
	Endpoint  string // empty: AWS
	Region    string
	Bucket    string
	AccessKey string
	SecretKey string
}

// Store is one bucket.
type Store struct {
	client  *s3.Client
	presign *s3.PresignClient
	bucket  string
}

// New returns a Store for cfg. Every call is bounded by a 30 s client
// timeout besides the caller's context.
func New(cfg Config) *Store {
	opts := s3.Options{
		Region:      cfg.Region,
		Credentials: credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, ""),
		HTTPClient:  &http.Client{Timeout: 30 * time.Second},
	}
	if cfg.Endpoint != "" {
		// Local S3-compatible servers address buckets by path, not by
		// host name.
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
		opts.UsePathStyle = true
	}
	client := s3.New(opts)
	return &Store{client: client, presign: s3.NewPresignClient(client), bucket: cfg.Bucket}
}

// EnsureBucket creates the bucket when it is missing and sets its CORS
// rule: browsers on origin (the site) may PUT uploads and GET files;
// no other origin may.
func (s *Store) EnsureBucket(ctx context.Context, origin string) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket})
	if err != nil {
		var notFound *types.NotFound
		if !errors.As(err, &notFound) {
			return fmt.Errorf("check bucket %s: %w", s.bucket, err)
		}
		_, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &s.bucket})
		var owned *types.BucketAlreadyOwnedByYou
		if err != nil && !errors.As(err, &owned) { // another process made it meanwhile
			return fmt.Errorf("create bucket %s: %w", s.bucket, err)
		}
	}

	_, err = s.client.PutBucketCors(ctx, &s3.PutBucketCorsInput{
		Bucket: &s.bucket,
		CORSConfiguration: &types.CORSConfiguration{
			CORSRules: []types.CORSRule{{
				AllowedOrigins: []string{origin},
				AllowedMethods: []string{http.MethodPut, http.MethodGet, http.MethodHead},
				AllowedHeaders: []string{"Content-Type", "Content-Length"},
				ExposeHeaders:  []string{"ETag"},
				MaxAgeSeconds:  aws.Int32(3600),
			}},
		},
	})
	if err != nil {
		return fmt.Errorf("set CORS on bucket %s: %w", s.bucket, err)
	}
	return nil
}

// Put stores body under key, replacing what was there: storing the same
// key twice leaves one object.
func (s *Store) Put(ctx context.Context, key, contentType string, body []byte) error {
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &s.bucket,
		Key:           &key,
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   &contentType,
	})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// Object describes a stored object.
type Object struct {
	Size        int64
	ContentType string
}

// ErrNoObject means nothing is stored under the key.
var ErrNoObject = errors.New("no such object")

// Head describes the object at key, or returns ErrNoObject.
func (s *Store) Head(ctx context.Context, key string) (Object, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		var notFound *types.NotFound
		if errors.As(err, &notFound) {
			return Object{}, ErrNoObject
		}
		return Object{}, fmt.Errorf("head %s: %w", key, err)
	}
	return Object{Size: aws.ToInt64(out.ContentLength), ContentType: aws.ToString(out.ContentType)}, nil
}

// Keys lists the keys under prefix (at most 1,000).
func (s *Store) Keys(ctx context.Context, prefix string) ([]string, error) {
	out, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	keys := make([]string, len(out.Contents))
	for i, o := range out.Contents {
		keys[i] = aws.ToString(o.Key)
	}
	return keys, nil
}

// DownloadURL returns a signed URL that fetches key for the next ttl,
// saved under filename.
func (s *Store) DownloadURL(ctx context.Context, key, filename string, ttl time.Duration) (string, error) {
	disposition := `attachment; filename="` + filename + `"`
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{
		Bucket:                     &s.bucket,
		Key:                        &key,
		ResponseContentDisposition: &disposition,
	}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("presign %s: %w", key, err)
	}
	return req.URL, nil
}
