/** `@bookbroker/adapter-shelfwise`: plugs Shelfwise sellers into bookbroker. */
export {
  conditionFromShelfwise,
  ShelfwiseCondition,
  ShelfwiseConfig,
  shelfwiseAdapter,
  shelfwiseMaxBatchSize
} from "./ShelfwiseAdapter.js"
