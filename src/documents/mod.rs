//! Issued documents: the quotation, tax invoice and delivery order of a
//! request, composed from the database and typeset by `kuota-documents`.
//! A document is rendered once — on first need after it is issued — stored
//! in the blob store by SHA-256 and recorded; every download returns those
//! same bytes. Rendering happens outside the issuing transaction so a slow
//! render never holds the database's write lock.

pub mod compose;
pub mod http;
pub mod procedures;
pub mod store;

use crate::blob::BlobStore;
use crate::db::Db;
use crate::error::{AppError, AppResult};

/// A stored document.
#[derive(Debug, Clone)]
pub struct StoredDocument {
    /// Document number.
    pub number: String,
    /// The request it belongs to.
    pub request_id: i64,
    /// PDF bytes.
    pub bytes: Vec<u8>,
}

/// The document with this number, rendering and storing it the first time.
/// `None` when no quotation, invoice or delivery order has this number.
///
/// # Errors
/// A database, rendering or blob-store fault.
pub async fn fetch(db: &Db, blobs: &BlobStore, number: &str, now_ms: i64) -> AppResult<Option<StoredDocument>> {
    if let Some(stored) = stored(db, blobs, number).await? {
        return Ok(Some(stored));
    }
    let Some((kind, request_id, document)) = compose::compose(db, number).await? else { return Ok(None) };
    let bytes = tokio::task::spawn_blocking(move || kuota_documents::render(&document))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("render task: {e}")))?
        .map_err(|e| AppError::Internal(anyhow::anyhow!("rendering {number}: {e}")))?;
    let sha256 = blobs.store(&bytes).await.map_err(|e| AppError::Internal(anyhow::anyhow!("storing {number}: {e}")))?;
    let size_bytes = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
    store::insert_document(db.pool(), number, kind, request_id, &sha256, size_bytes, now_ms).await?;
    // Whoever recorded first wins; everyone serves the recorded bytes.
    stored(db, blobs, number).await
}

/// Produces a document again from what is recorded now (an invoice once its
/// e-invoice is valid), keeping the earlier version's bytes: the current
/// version is superseded and the new one rendered and stored at once.
///
/// # Errors
/// A database fault, or the new version cannot be rendered.
pub async fn supersede(state: &crate::state::AppState, number: &str) -> AppResult<()> {
    let now_ms = state.clock.now_ms();
    let mut transaction = state.db.begin_write().await?;
    store::supersede(&mut transaction, number, now_ms).await?;
    transaction.commit().await?;
    fetch(&state.db, &state.blobs, number, now_ms).await?;
    Ok(())
}

async fn stored(db: &Db, blobs: &BlobStore, number: &str) -> AppResult<Option<StoredDocument>> {
    let Some((request_id, sha256)) = store::find_document(db.pool(), number).await? else { return Ok(None) };
    let bytes = blobs.get(&sha256).await.map_err(|e| AppError::Internal(anyhow::anyhow!("reading {number}: {e}")))?;
    Ok(Some(StoredDocument { number: number.to_owned(), request_id, bytes }))
}
