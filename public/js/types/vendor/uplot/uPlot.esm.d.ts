// What the page loads as /dashboard/vendor/uplot/uPlot.esm.js (see ../../../tsconfig.json).
export { default } from 'uplot';
