//! SQL for products and their dated prices.

use sqlx::{AnyConnection, AnyPool, Row};

use super::Product;
use crate::money::Sen;

/// Every product, with the price in force on `day` (`YYYY-MM-DD`).
///
/// # Errors
/// A database fault.
pub async fn products(pool: &AnyPool, day: &str) -> sqlx::Result<Vec<Product>> {
    let rows = sqlx::query(
        "SELECT p.code, p.name_ms, p.name_en, p.validity_months, p.active,
                (SELECT unit_price_sen FROM product_prices pp WHERE pp.product_code = p.code AND pp.effective_from <= $1
                 ORDER BY pp.effective_from DESC LIMIT 1)
         FROM products p ORDER BY p.code",
    )
    .bind(day)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let price: Option<i64> = row.try_get(5)?;
            Ok(Product {
                code: row.try_get(0)?,
                name_ms: row.try_get(1)?,
                name_en: row.try_get(2)?,
                validity_months: row.try_get(3)?,
                active: row.try_get::<i64, _>(4)? == 1,
                unit_price: price.and_then(|sen| Sen::new(sen).ok()),
            })
        })
        .collect()
}

/// The unit price of `product` in force on `day`.
///
/// # Errors
/// A database fault.
pub async fn price_on(connection: &mut AnyConnection, product: &str, day: &str) -> sqlx::Result<Option<Sen>> {
    let row = sqlx::query(
        "SELECT unit_price_sen FROM product_prices WHERE product_code = $1 AND effective_from <= $2
         ORDER BY effective_from DESC LIMIT 1",
    )
    .bind(product)
    .bind(day)
    .fetch_optional(connection)
    .await?;
    Ok(row.map(|row| row.try_get::<i64, _>(0)).transpose()?.and_then(|sen| Sen::new(sen).ok()))
}

/// True when `code` is an active product.
///
/// # Errors
/// A database fault.
pub async fn is_active_product<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    code: &str,
) -> sqlx::Result<bool> {
    let row = sqlx::query("SELECT code FROM products WHERE code = $1 AND active = 1")
        .bind(code)
        .fetch_optional(executor)
        .await?;
    Ok(row.is_some())
}

/// True when `code` is any product in the catalogue (active or not).
///
/// # Errors
/// A database fault.
pub async fn is_product<'e>(executor: impl sqlx::Executor<'e, Database = sqlx::Any>, code: &str) -> sqlx::Result<bool> {
    let row = sqlx::query("SELECT code FROM products WHERE code = $1").bind(code).fetch_optional(executor).await?;
    Ok(row.is_some())
}

/// Stores a price of a product from a date on.
///
/// # Errors
/// A unique violation when the product has a price from that date; a database fault.
pub async fn insert_price(
    connection: &mut AnyConnection,
    product: &str,
    unit_price: Sen,
    from: jiff::civil::Date,
    now_ms: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO product_prices (product_code, unit_price_sen, effective_from, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(product)
    .bind(unit_price.get())
    .bind(from.to_string())
    .bind(now_ms)
    .execute(connection)
    .await?;
    Ok(())
}
