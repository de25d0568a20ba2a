// Package blob stores Keel's files (invoices, media) in an S3-compatible
// object store: AWS S3 in production, any compatible server locally.
package blob

import (
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
	client *s3.Client
	bucket string
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
	return &Store{client: s3.New(opts), bucket: cfg.Bucket}
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
		if _, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &s.bucket}); err != nil {
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
